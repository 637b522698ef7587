"""List imports: a CSV file (badge scans, webinar attendees, event lists) → ``list_import`` events.

Pure: no AWS. :func:`read_rows` streams a binary file (an S3 body, a local file) line by line, so a
100,000-row file never sits in memory; :class:`ListImport` maps each row through the forms alias table
(:mod:`leadscore.ingest.forms`), validates it and builds one ``list_import`` CanonicalEvent per person.

- **Encoding**: UTF-8, with or without a byte-order mark (Excel's "CSV UTF-8" writes one). A file that is
  not UTF-8 stops the import with the byte offset where it broke (no guess at Latin-1).
- **Dialect**: RFC 4180 through the stdlib ``csv`` module: quoted fields, ``""`` inside them, line breaks
  inside quotes. The delimiter is a comma, or a semicolon when the header has semicolons and no comma
  (European Excel).
- **Headers** map through the same alias table as forms (``Work Email``, ``E-mail``, ``Company size``...),
  plus the time columns of event tools (:data:`LIST_ALIASES`: ``Scanned at``, ``Join time``...).
  Unknown columns become properties under a snake_case key.
- **Rows** without an email, or with an invalid one, are skipped and listed (row number and reason, never
  the value). A person seen twice in a file is counted once; later rows are listed as duplicates.
- **Formula injection** (OWASP "CSV Injection"): a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return is never stored: it is dropped from the lead and the report names its row and column.
  The one exception is a phone number such as ``+1 555 0100`` in a phone column (digits and punctuation
  only, which no spreadsheet runs). Headers written into the report are escaped with a leading ``'``.
- **Dedupe key**: the event id is a hash of the list's name and the normalized email. Re-importing the
  file, or a corrected copy under the same name, never counts a person twice on that list; a new person
  in the corrected copy is imported. The same person on another list (another file name) is a new event.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote_plus

from pydantic import ValidationError

from leadscore.ingest.forms import build_alias_index, build_profile, map_fields, normalize_field_name
from leadscore.ingest.normalize import UTM_FIELDS, clean_properties, occurred_at
from leadscore.models.event import CanonicalEvent, EmailEncodingError, Identity, normalize_email

SOURCE = "list_import"
EVENT_TYPE = "list_import"
BOM = b"\xef\xbb\xbf"
READ_CHUNK = 256 * 1024
MAX_LINE_BYTES = 1024 * 1024  # a "line" longer than this is not a CSV row (a binary file, an unclosed quote)
MAX_COLUMNS = 200
MAX_LISTED = 1000  # rejected rows and duplicates listed in the report (all are counted)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")  # OWASP CSV Injection; ASVS 1.2.10 adds NUL
_PHONE = re.compile(r"\+[0-9][0-9 ().\-/]{3,30}")


# Beyond the forms table: the columns event and webinar tools name the time a person was seen.
LIST_ALIASES: Mapping[str, str] = dict.fromkeys(
    (
        "scanned at",
        "scan time",
        "scan date",
        "registered at",
        "registration time",
        "registration date",
        "attended at",
        "join time",
        "date",
    ),
    "submitted_at",
)


def import_aliases(extra_aliases: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The alias index of a list import: the forms table, :data:`LIST_ALIASES`, then the deployment's own."""
    return build_alias_index({**LIST_ALIASES, **(extra_aliases or {})})


class ImportFileError(Exception):
    """The file cannot be imported at all (not UTF-8, no header, no email column). ``offset``: where."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class BinaryStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def object_key(raw_key: str) -> str:
    """An S3 event's object key as S3 stores it: URL-decoded, ``+`` being a space (S3 event docs)."""
    return unquote_plus(raw_key)


def list_name(key: str, prefix: str = "imports/") -> tuple[str, str | None]:
    """The list's name (the file name without ``.csv``) and its folder under the prefix, if any.

    ``imports/webinars/Pricing Q4.csv`` → ``("Pricing Q4", "webinars")``.
    """
    rest = key[len(prefix) :] if key.startswith(prefix) else key
    folder, _, file_name = rest.rpartition("/")
    stem = file_name[:-4] if file_name.lower().endswith(".csv") else file_name
    return (stem.strip() or file_name or key)[:200], (folder.strip() or None)


def is_formula(value: str) -> bool:
    """True if a spreadsheet could run the cell as a formula (OWASP CSV injection prefixes)."""
    return value.startswith(FORMULA_PREFIXES)


def escape_cell(value: str) -> str:
    """A cell made safe to show in a spreadsheet: a formula-like value gets a leading ``'`` (OWASP)."""
    return "'" + value if is_formula(value) else value


def event_id_for(list_label: str, email: str) -> str:
    """The dedupe key of a person on a list: the same on every re-import of that list."""
    digest = hashlib.sha256(f"{list_label.casefold()}\n{email}".encode()).hexdigest()[:40]
    return f"{SOURCE}:{digest}"


@dataclass
class Lines:
    """Decoded lines of a binary stream, with the byte offset just after the last line handed out.

    Lines are split on ``\\n`` (a UTF-8 byte that is never part of another character), so decoding line by
    line is exact. ``offset`` counts from the start of the object, including a skipped BOM, so an import
    can continue from it with a ranged GET.
    """

    stream: BinaryStream
    offset: int = 0
    _buffer: bytes = b""
    _eof: bool = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
                break
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ImportFileError("a line is longer than 1 MiB: not a CSV file?", self.offset)
            if self._eof:
                if not self._buffer:
                    raise StopIteration
                raw, self._buffer = self._buffer, b""
                break
            chunk = self.stream.read(READ_CHUNK)
            if not chunk:
                self._eof = True
            self._buffer += chunk
        start = self.offset
        self.offset += len(raw)
        if start == 0 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"the file is not UTF-8 (byte {start + exc.start}); export it as 'CSV UTF-8'",
                start + exc.start,
            ) from None


@dataclass(frozen=True)
class Row:
    """One CSV record: its 1-based row number (the header is row 1) and the offset just after it."""

    number: int
    cells: list[str]
    end_offset: int


def read_rows(lines: Lines, *, delimiter: str = ",", first_row: int = 1) -> Iterator[Row]:
    """CSV records of ``lines``, each with the byte offset where the next one starts."""
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    number = first_row - 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"row {number + 1} is not valid CSV: {exc}", lines.offset) from None
        number += 1
        yield Row(number=number, cells=cells, end_offset=lines.offset)


def sniff_delimiter(header_line: str) -> str:
    return ";" if ";" in header_line and "," not in header_line else ","


@dataclass(frozen=True)
class Header:
    """The columns of a file: their names and the mapping target of each (None: a property)."""

    names: tuple[str, ...]
    delimiter: str = ","

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "delimiter": self.delimiter}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Header:
        return cls(names=tuple(str(n) for n in data["names"]), delimiter=str(data.get("delimiter", ",")))


@dataclass
class Problem:
    row: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "reason": self.reason}


@dataclass
class Tally:
    """What an import did so far. Carried across continuations (JSON), written out as the report."""

    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    neutralized: int = 0  # formula-like cells dropped
    rejected_rows: list[Problem] = field(default_factory=list)
    duplicate_rows: list[Problem] = field(default_factory=list)
    neutralized_cells: list[Problem] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # digests of the emails accepted so far

    def reject(self, row: int, reason: str) -> None:
        self.rejected += 1
        if len(self.rejected_rows) < MAX_LISTED:
            self.rejected_rows.append(Problem(row, reason))

    def neutralize(self, row: int, column: str) -> None:
        self.neutralized += 1
        if len(self.neutralized_cells) < MAX_LISTED:
            self.neutralized_cells.append(
                Problem(row, f"{escape_cell(column)}: formula-like value dropped (CSV injection)")
            )

    def duplicate(self, row: int, first_row: int | None) -> None:
        self.duplicates += 1
        if len(self.duplicate_rows) < MAX_LISTED:
            where = f"row {first_row}" if first_row else "an earlier row"
            self.duplicate_rows.append(Problem(row, f"same email as {where}"))

    def to_json(self, *, with_seen: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "neutralized_cells": self.neutralized,
            "rejected_rows": [p.to_json() for p in self.rejected_rows],
            "duplicate_rows": [p.to_json() for p in self.duplicate_rows],
            "neutralized": [p.to_json() for p in self.neutralized_cells],
        }
        if with_seen:
            out["seen"] = sorted(self.seen)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        def problems(name: str) -> list[Problem]:
            return [Problem(int(p["row"]), str(p["reason"])) for p in data.get(name, [])]

        return cls(
            rows=int(data.get("rows", 0)),
            accepted=int(data.get("accepted", 0)),
            rejected=int(data.get("rejected", 0)),
            duplicates=int(data.get("duplicates", 0)),
            neutralized=int(data.get("neutralized_cells", 0)),
            rejected_rows=problems("rejected_rows"),
            duplicate_rows=problems("duplicate_rows"),
            neutralized_cells=problems("neutralized"),
            seen=set(data.get("seen", [])),
        )


def _seen_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:16]  # 64 bits: collisions need ~4e9 rows


def parse_header(row: Row, aliases: Mapping[str, str], delimiter: str) -> Header:
    names = tuple(cell.strip() for cell in row.cells)
    if not any(names):
        raise ImportFileError("the first row must be a header row (column names)")
    if len(names) > MAX_COLUMNS:
        raise ImportFileError(f"the file has {len(names)} columns; at most {MAX_COLUMNS}")
    if "email" not in {aliases.get(normalize_field_name(name)) for name in names}:
        raise ImportFileError(
            "no email column: name one email, e-mail, work email or email address (header row: "
            + ", ".join(escape_cell(n) for n in names[:20])
            + ")"
        )
    return Header(names=names, delimiter=delimiter)


@dataclass
class ListImport:
    """Turns rows of one file into events. ``received_at``: when the file was dropped (LastModified)."""

    list_label: str
    folder: str | None
    key: str
    header: Header
    received_at: datetime
    aliases: Mapping[str, str] = field(default_factory=import_aliases)
    tally: Tally = field(default_factory=Tally)
    _first_row: dict[str, int] = field(default_factory=dict)

    def row_event(self, row: Row) -> CanonicalEvent | None:
        """The row's event, or None (rejected or duplicate, counted in :attr:`tally`)."""
        tally = self.tally
        tally.rows += 1
        if not any(cell.strip() for cell in row.cells):
            tally.rows -= 1  # a blank line is not a row anybody sent
            return None
        pairs: list[tuple[str, Any]] = []
        email_cells: list[str] = []
        for name, raw in zip(self.header.names, row.cells, strict=False):
            value = raw.strip()
            if not value:
                continue
            target = self.aliases.get(normalize_field_name(name))
            if target == "email":
                email_cells.append(value)
                continue
            if is_formula(value) and not (target == "phone" and _PHONE.fullmatch(value)):
                tally.neutralize(row.number, name)
                continue
            pairs.append((name, value))
        if not email_cells:
            tally.reject(row.number, "email: missing")
            return None
        if is_formula(email_cells[0]):
            tally.reject(row.number, "email: formula-like value (CSV injection), not an address")
            return None
        try:
            email = normalize_email(email_cells[0])
        except EmailEncodingError as exc:
            tally.reject(row.number, f"email: {exc}")
            return None
        except ValueError:
            tally.reject(row.number, "email: not a valid email address")
            return None
        seen = _seen_key(email)
        if seen in tally.seen:
            tally.duplicate(row.number, self._first_row.get(seen))
            return None
        mapped = map_fields(pairs, self.aliases)
        values = mapped.values
        profile, _dropped = build_profile(values)
        properties = clean_properties(
            {"list": self.list_label, "folder": self.folder, "file": self.key, "row": row.number},
            {utm: values.get(utm) for utm in UTM_FIELDS},
            mapped.extra,
        )
        try:
            event = CanonicalEvent(
                event_id=event_id_for(self.list_label, email),
                source=SOURCE,
                type=EVENT_TYPE,
                name=self.list_label,
                occurred_at=occurred_at(values.get("submitted_at"), self.received_at),
                received_at=self.received_at,
                identity=Identity(email=email),
                profile=profile,
                properties=properties,
            )
        except ValidationError as exc:  # pragma: no cover - every field above is already bounded
            tally.reject(row.number, "row: " + str(exc.errors()[0]["msg"]))
            return None
        tally.seen.add(seen)
        self._first_row[seen] = row.number
        tally.accepted += 1
        return event


def header_of(lines: Lines, aliases: Mapping[str, str]) -> Header:
    """Read the header row from the start of a file."""
    try:
        first = next(lines)
    except StopIteration:
        raise ImportFileError("the file is empty") from None
    delimiter = sniff_delimiter(first)
    cells = next(csv.reader([first], delimiter=delimiter), [])
    return parse_header(Row(number=1, cells=cells, end_offset=lines.offset), aliases, delimiter)


def events_of(rows: Iterable[Row], importer: ListImport) -> Iterator[tuple[Row, CanonicalEvent | None]]:
    for row in rows:
        yield row, importer.row_event(row)
