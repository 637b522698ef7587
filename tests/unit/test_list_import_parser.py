"""The CSV list-import parser (leadscore.ingest.list_import) and the import service over a fake bucket:
BOM, quotes, accents, header aliases, invalid emails, formula injection, duplicates, re-imports,
continuations from a byte offset, and the S3 key decoding."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.imports import FileChanged, ImportObject, report_key
from leadscore.ingest.list_import import (
    ImportFileError,
    Lines,
    ListImport,
    escape_cell,
    event_id_for,
    header_of,
    import_aliases,
    is_formula,
    list_name,
    object_key,
    read_rows,
)
from leadscore.models.event import CanonicalEvent
from leadscore.services import list_import as service

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def parse(data: bytes, key: str = "imports/Web Summit 2026.csv") -> tuple[list[CanonicalEvent], ListImport]:
    lines = Lines(io.BytesIO(data))
    header = header_of(lines, import_aliases())
    name, folder = list_name(key)
    importer = ListImport(list_label=name, folder=folder, key=key, header=header, received_at=WHEN)
    events = [
        e
        for row in read_rows(lines, delimiter=header.delimiter, first_row=2)
        if (e := importer.row_event(row))
    ]
    return events, importer


def test_a_bom_is_skipped_and_headers_map_through_the_forms_alias_table() -> None:
    data = "\ufeffWork Email,First Name,Last Name,Company,Job Title,Company size,Country\r\n".encode()
    data += b"ana@acme-fintech.com,Ana,Lima,Acme,VP Finance,501-1000,US\r\n"
    events, importer = parse(data)
    assert importer.header.names[0] == "Work Email"  # not "\ufeffWork Email"
    [event] = events
    assert event.identity.email == "ana@acme-fintech.com"
    assert event.type == "list_import" and event.name == "Web Summit 2026" and event.source == "list_import"
    assert event.profile is not None
    assert event.profile.fields() == {
        "first_name": "Ana",
        "last_name": "Lima",
        "company": "Acme",
        "job_title": "VP Finance",
        "company_size": 501.0,
        "country": "US",
    }
    assert event.properties["list"] == "Web Summit 2026" and event.properties["row"] == 2
    assert event.occurred_at == WHEN


def test_the_same_file_without_a_bom_gives_the_same_events() -> None:
    body = b"email,company\nana@acme-fintech.com,Acme\n"
    with_bom, _ = parse(b"\xef\xbb\xbf" + body)
    without, _ = parse(body)
    assert [e.model_dump() for e in with_bom] == [e.model_dump() for e in without]


def test_quoted_fields_with_doubled_quotes_commas_line_breaks_and_accents() -> None:
    data = (
        'email,company,job title,notes\n"zoë@bücher.de","Müller, ""Söhne"" & Co",'
        '"Directrice générale","line one\nline two"\nnext@x.io,X,CTO,\n'
    ).encode()
    events, importer = parse(data)
    first, second = events
    assert first.identity.email == "zoë@bücher.de"
    assert first.profile is not None and first.profile.company == 'Müller, "Söhne" & Co'
    assert first.profile.job_title == "Directrice générale"
    assert first.properties["notes"] == "line one\nline two"
    assert second.properties["row"] == 3  # the quoted line break did not make a row
    assert importer.tally.rows == 2


def test_a_semicolon_file_from_european_excel_is_read() -> None:
    events, _ = parse(b"E-Mail;Company;Notiz\nhans@beispiel.de;Beispiel GmbH;a, b\n")
    assert events[0].profile is not None and events[0].profile.company == "Beispiel GmbH"
    assert events[0].properties["notiz"] == "a, b"


def test_rows_without_an_email_or_with_an_invalid_one_are_skipped_and_listed() -> None:
    data = b"email,company\nok@x.io,A\n,B\nnot-an-address,C\nbad@@x.io,D\n\nok2@x.io,E\n"
    events, importer = parse(data)
    assert [e.identity.email for e in events] == ["ok@x.io", "ok2@x.io"]
    tally = importer.tally
    assert [p.to_json() for p in tally.rejected_rows] == [
        {"row": 3, "reason": "email: missing"},
        {"row": 4, "reason": "email: not a valid email address"},
        {"row": 5, "reason": "email: not a valid email address"},
    ]
    assert (tally.accepted, tally.rejected, tally.rows) == (2, 3, 5)  # the blank line is no row
    assert "not-an-address" not in json.dumps(tally.to_json(with_seen=False))  # reasons, never values


@pytest.mark.parametrize(
    "payload", ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"]
)
def test_formula_like_cells_never_become_lead_fields(payload: str) -> None:
    data = io.StringIO()
    import csv

    writer = csv.writer(data)
    writer.writerow(["email", "company", "job title", "notes"])
    writer.writerow(["ana@x.io", payload, "CTO", payload])
    events, importer = parse(data.getvalue().encode())
    [event] = events
    assert event.profile is not None and event.profile.company is None
    assert event.profile.job_title == "CTO"
    assert "notes" not in event.properties
    stored = json.dumps(event.model_dump(mode="json"))
    assert payload.strip() not in stored
    assert importer.tally.neutralized == 2
    assert [p.row for p in importer.tally.neutralized_cells] == [2, 2]


def test_a_formula_in_the_email_column_rejects_the_row() -> None:
    events, importer = parse(b'email,company\n"=HYPERLINK(""http://x"")@x.io",A\n')
    assert events == []
    assert "formula" in importer.tally.rejected_rows[0].reason


def test_a_phone_number_starting_with_plus_is_kept_in_the_phone_column_only() -> None:
    events, importer = parse(b"email,phone,notes\nana@x.io,+1 (555) 010-0199,+1 555\n")
    assert events[0].profile is not None and events[0].profile.phone == "+1 (555) 010-0199"
    assert "notes" not in events[0].properties and importer.tally.neutralized == 1


def test_a_formula_like_header_is_escaped_in_the_report() -> None:
    _, importer = parse(b"email,=cmd()\nana@x.io,=1+1\n")
    [problem] = importer.tally.neutralized_cells
    assert problem.reason.startswith("'=cmd()")
    assert escape_cell("=x") == "'=x" and escape_cell("x") == "x"
    assert all(is_formula(p) for p in ("=", "+", "-", "@", "\t", "\r")) and not is_formula("a=")


def test_duplicates_within_a_file_count_once() -> None:
    data = b"email,company\nana@x.io,A\nbo@x.io,B\n ANA@X.IO ,A again\nana@x.io,A\n"
    events, importer = parse(data)
    assert [e.identity.email for e in events] == ["ana@x.io", "bo@x.io"]
    assert importer.tally.duplicates == 2
    assert [p.to_json() for p in importer.tally.duplicate_rows] == [
        {"row": 4, "reason": "same email as row 2"},
        {"row": 5, "reason": "same email as row 2"},
    ]


def test_the_event_id_depends_on_the_list_and_the_person_only() -> None:
    first, _ = parse(b"email,company\nana@x.io,A\n")
    corrected, _ = parse(b"company,email\nA Corp,ana@x.io\n")  # another layout, a corrected company
    other_list, _ = parse(b"email\nana@x.io\n", key="imports/Webinar Nov.csv")
    assert first[0].event_id == corrected[0].event_id == event_id_for("Web Summit 2026", "ana@x.io")
    assert other_list[0].event_id != first[0].event_id


def test_a_file_that_is_not_utf8_or_has_no_email_column_stops_with_a_reason() -> None:
    with pytest.raises(ImportFileError, match="not UTF-8 \\(byte 24\\)"):
        parse(b"email,company\nana@x.io,M\xfcller\n")
    with pytest.raises(ImportFileError, match="no email column"):
        parse(b"name,company\nAna,Acme\n")
    with pytest.raises(ImportFileError, match="empty"):
        parse(b"")


def test_keys_from_s3_events_are_url_decoded() -> None:
    assert object_key("imports/Web+Summit+2026+%28badges%29.csv") == "imports/Web Summit 2026 (badges).csv"
    assert object_key("imports/caf%C3%A9+%2B+more.csv") == "imports/café + more.csv"
    assert list_name("imports/webinars/Pricing Q4.csv") == ("Pricing Q4", "webinars")
    assert list_name("imports/Badge scans.CSV") == ("Badge scans", None)


def test_offsets_let_a_ranged_read_resume_at_the_next_record() -> None:
    data = b'\xef\xbb\xbfemail,notes\na@x.io,"two\nlines"\nb@x.io,x\nc@x.io,y\n'
    lines = Lines(io.BytesIO(data))
    header = header_of(lines, import_aliases())
    rows = list(read_rows(lines, delimiter=",", first_row=2))
    assert [r.cells[0] for r in rows] == ["a@x.io", "b@x.io", "c@x.io"]
    resumed = Lines(io.BytesIO(data[rows[0].end_offset :]), offset=rows[0].end_offset)
    again = list(read_rows(resumed, delimiter=header.delimiter, first_row=3))
    assert [(r.number, r.cells[0]) for r in again] == [(3, "b@x.io"), (4, "c@x.io")]
    assert again[-1].end_offset == len(data)


# ------------------------------------------------------------------------------ the service, fake bucket
class FakeFiles:
    """ImportFiles over a dict: what the service reads and writes, with ranged reads and ETag checks."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.reports: dict[str, dict[str, Any]] = {}
        self.opened: list[tuple[str, int]] = []
        self.etags = {key: f"etag-{len(body)}" for key, body in objects.items()}

    def obj(self, key: str) -> ImportObject:
        return ImportObject("bucket", key, self.etags[key], len(self.objects[key]), WHEN)

    def open(self, obj: ImportObject, offset: int = 0) -> io.BytesIO:
        if self.etags.get(obj.key) != obj.etag:
            raise FileChanged(obj.key)
        self.opened.append((obj.key, offset))
        return io.BytesIO(self.objects[obj.key][offset:])

    def read_report(self, key: str) -> dict[str, Any] | None:
        report = self.reports.get(report_key(key))
        return json.loads(json.dumps(report)) if report is not None else None

    def write_report(self, key: str, report: dict[str, Any]) -> str:
        self.reports[report_key(key)] = json.loads(json.dumps(report))
        return report_key(key)


def big_file(rows: int) -> bytes:
    return ("email,company\n" + "".join(f"p{i}@x{i % 97}.io,Co {i}\n" for i in range(rows))).encode()


def run(files: FakeFiles, key: str, sent: list[CanonicalEvent], **kwargs: Any) -> service.ImportOutcome:
    def send(events: Sequence[CanonicalEvent]) -> None:
        sent.extend(events)

    return service.import_file(files, files.obj(key), send, **kwargs)


BIG = "imports/Big.csv"


@pytest.fixture
def chunks_of_100(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service reads 100 rows a chunk, so a file of a few hundred rows needs continuations."""
    monkeypatch.setattr(service, "CHUNK_ROWS", 100)


def first_chunk_of(rows: int) -> tuple[FakeFiles, list[CanonicalEvent], service.ImportOutcome]:
    """A Big.csv of ``rows`` rows, imported until time runs short after its first chunk."""
    files = FakeFiles({BIG: big_file(rows)})
    sent: list[CanonicalEvent] = []
    return files, sent, run(files, BIG, sent, time_left=lambda: 1.0)


def test_a_report_is_written_next_to_the_file() -> None:
    key = "imports/Expo.csv"
    files = FakeFiles({key: b"email,company\nana@x.io,A\nnope,B\nana@x.io,C\n"})
    sent: list[CanonicalEvent] = []
    outcome = run(files, key, sent)
    report = files.reports["imports/Expo.csv.report.json"]
    assert outcome.status == "complete" and len(sent) == 1
    assert report["status"] == "complete" and report["list"] == "Expo" and report["etag"] == files.etags[key]
    assert (report["accepted"], report["rejected"], report["duplicates"]) == (1, 1, 1)
    assert report["rejected_rows"] == [{"row": 3, "reason": "email: not a valid email address"}]
    assert "seen" not in report and "ana@x.io" not in json.dumps(report)


def test_re_importing_the_same_file_reads_and_sends_nothing() -> None:
    key = "imports/Expo.csv"
    files = FakeFiles({key: big_file(10)})
    sent: list[CanonicalEvent] = []
    assert run(files, key, sent).status == "complete"
    again: list[CanonicalEvent] = []
    outcome = run(files, key, again)
    assert outcome.status == "unchanged" and again == [] and files.opened == [(key, 0)]
    assert outcome.tally.accepted == 10


@pytest.mark.usefixtures("chunks_of_100")
def test_a_long_file_continues_from_its_byte_offset_and_counts_everything_once() -> None:
    data = big_file(1050) + b"p5@x5.io,again\n"  # one duplicate across the continuation boundary
    files = FakeFiles({BIG: data})
    sent: list[CanonicalEvent] = []
    clock = iter([100.0, 100.0, 5.0] * 100)  # low on time after every third chunk
    outcome = run(files, BIG, sent, time_left=lambda: next(clock))
    invocations = 1
    while outcome.continuation is not None:
        in_progress = files.reports[report_key(BIG)]
        assert in_progress["status"] == "in_progress" and in_progress["seen"]
        continuation = service.Continuation.model_validate_json(outcome.continuation.model_dump_json())
        outcome = run(files, BIG, sent, time_left=lambda: next(clock), continuation=continuation)
        invocations += 1
    report = files.reports[report_key(BIG)]
    assert invocations == 4 and report["invocations"] == 4
    assert next(offset for _, offset in files.opened) == 0 and all(o > 0 for _, o in files.opened[1:])
    assert len(sent) == len({e.event_id for e in sent}) == 1050
    assert (report["accepted"], report["duplicates"], report["rows"]) == (1050, 1, 1051)
    assert report["status"] == "complete" and "seen" not in report


@pytest.mark.usefixtures("chunks_of_100")
def test_a_continuation_for_a_replaced_file_stops() -> None:
    files, sent, outcome = first_chunk_of(300)
    assert outcome.continuation is not None
    files.etags[BIG] = "replaced"
    stale = service.import_file(
        files, outcome.continuation.object(), sent.extend, continuation=outcome.continuation
    )
    assert stale.status == "changed" and len(sent) == 100


def test_a_file_that_cannot_be_imported_gets_a_failed_report() -> None:
    key = "imports/Latin1.csv"
    files = FakeFiles({key: b"email,company\nana@x.io,M\xfcller\n"})
    outcome = run(files, key, [])
    report = files.reports[report_key(key)]
    assert outcome.status == "failed" and report["status"] == "failed" and "UTF-8" in report["error"]


@pytest.mark.usefixtures("chunks_of_100")
def test_a_continuation_delivered_again_after_its_successor_checkpointed_stops() -> None:
    files, sent, first = first_chunk_of(500)
    assert first.continuation is not None
    second = run(files, BIG, sent, time_left=lambda: 1.0, continuation=first.continuation)
    assert second.continuation is not None and len(sent) == 200
    again = run(files, BIG, sent, time_left=lambda: 1.0, continuation=first.continuation)  # redelivered
    assert again.status == "superseded" and len(sent) == 200
    assert files.reports[report_key(BIG)]["progress"]["row"] == second.continuation.row - 1
    rest = run(files, BIG, sent, continuation=second.continuation)
    report = files.reports[report_key(BIG)]
    assert rest.status == "complete" and (report["accepted"], report["duplicates"]) == (500, 0)
