"""One list import: an S3 object under ``imports/`` → ``list_import`` events on the events queue, and a
report object next to the file.

The import reads the object as a stream, maps and checks each row (:mod:`leadscore.ingest.list_import`),
and queues events in chunks of :data:`CHUNK_ROWS`. After each chunk it looks at the time left: below
:data:`MARGIN_SECONDS` it saves its progress in the report (``status: in_progress``, the byte offset and
row it reached, the digests of the addresses seen) and returns a :class:`Continuation` that the handler
queues; the next invocation resumes with a ranged GET from that offset. A crash in between repeats at
most one chunk, which is harmless: event ids are stable, so the scorer counts each person once. A
continuation delivered again after its successor checkpointed (the report names a later row) stops
(``superseded``), so two invocations never carry on the same file.

Re-importing: an object whose ETag matches a completed report is not read again (``unchanged``). Any
other re-upload is imported, and every person already imported on that list has the same event id as
before, so nothing is counted twice; a corrected file adds the people it adds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from leadscore.dal.imports import FileChanged, ImportFiles, ImportObject, continue_later, report_key
from leadscore.dal.queue import enqueue
from leadscore.ingest.config import IngestConfig
from leadscore.ingest.list_import import (
    Header,
    ImportFileError,
    Lines,
    ListImport,
    Tally,
    header_of,
    import_aliases,
    list_name,
    read_rows,
)
from leadscore.ingest.s3_notification import S3Notification, S3TestEvent
from leadscore.models.event import CanonicalEvent
from leadscore.observability import count, logger
from leadscore.settings import get_settings, require

CHUNK_ROWS = 500  # events queued per flush (50 SendMessageBatch calls)
MARGIN_SECONDS = 20.0  # time kept for the last flush, the report and the continuation
PROGRESS_EVERY_ROWS = 20_000
DEDUPE_NOTE = (
    "event id = hash(list name, email): re-importing this file, or a corrected copy under the same "
    "name, never counts a person twice on this list; new people in a corrected copy are imported"
)

Status = Literal["complete", "unchanged", "in_progress", "failed", "changed", "superseded"]


class Continuation(BaseModel):
    """The import-queue message that resumes an import where the previous invocation stopped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["list_import_continuation"] = "list_import_continuation"
    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    etag: str = Field(min_length=1, max_length=100)
    size: int = Field(ge=0)
    last_modified: datetime
    offset: int = Field(ge=0)
    row: int = Field(ge=1)
    header: dict[str, Any]
    invocation: int = Field(default=2, ge=2)

    def object(self) -> ImportObject:
        return ImportObject(self.bucket, self.key, self.etag, self.size, self.last_modified)


@dataclass
class ImportOutcome:
    status: Status
    key: str
    report_key: str
    tally: Tally = field(default_factory=Tally)
    events_sent: int = 0
    continuation: Continuation | None = None
    error: str | None = None

    def summary(self) -> dict[str, Any]:
        """Counts for a log line (no addresses, no cell values)."""
        return {
            "status": self.status,
            "rows": self.tally.rows,
            "accepted": self.tally.accepted,
            "rejected": self.tally.rejected,
            "duplicates": self.tally.duplicates,
            "neutralized_cells": self.tally.neutralized,
            "events_sent": self.events_sent,
            "continued": self.continuation is not None,
        }


class Files(Protocol):
    """What an import needs of the bucket (:class:`leadscore.dal.imports.ImportFiles`)."""

    def open(self, obj: ImportObject, offset: int = 0) -> Any: ...
    def read_report(self, key: str) -> dict[str, Any] | None: ...
    def write_report(self, key: str, report: dict[str, Any]) -> str: ...


Send = Callable[[Sequence[CanonicalEvent]], None]
TimeLeft = Callable[[], float]
Progress = Callable[[dict[str, Any]], None]


def import_file(
    files: Files,
    obj: ImportObject,
    send: Send,
    *,
    prefix: str = "imports/",
    time_left: TimeLeft | None = None,
    progress: Progress | None = None,
    continuation: Continuation | None = None,
    extra_aliases: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportOutcome:
    """Import ``obj`` (from the start, or from ``continuation``) and write its report."""
    name, folder = list_name(obj.key, prefix)
    previous = files.read_report(obj.key)
    outcome = ImportOutcome(status="in_progress", key=obj.key, report_key=report_key(obj.key))
    unchanged = previous is not None and previous.get("etag") == obj.etag
    if continuation is None and unchanged and previous and previous.get("status") == "complete":
        outcome.status = "unchanged"
        outcome.tally = Tally.from_json(previous)
        return outcome
    base: dict[str, Any] = {
        "file": obj.key,
        "list": name,
        "folder": folder,
        "etag": obj.etag,
        "size": obj.size,
        "dedupe": DEDUPE_NOTE,
    }
    if continuation is not None:
        if not previous or previous.get("etag") != obj.etag or previous.get("status") != "in_progress":
            outcome.status = "changed"  # replaced or restarted meanwhile: its own event imports it
            return outcome
        if (previous.get("progress") or {}).get("row", 0) + 1 != continuation.row:
            # A redelivered continuation whose successor already checkpointed: that one carries on.
            outcome.status = "superseded"
            return outcome
        base["started_at"] = previous.get("started_at")
        outcome.tally = Tally.from_json(previous)
    else:
        base["started_at"] = now().isoformat()
    aliases = import_aliases(extra_aliases)
    invocation = continuation.invocation if continuation else 1

    def report(status: Status, extra: Mapping[str, Any]) -> None:
        files.write_report(
            obj.key,
            {
                **base,
                "status": status,
                "invocations": invocation,
                "updated_at": now().isoformat(),
                **outcome.tally.to_json(with_seen=status == "in_progress"),
                **extra,
            },
        )

    try:
        offset = continuation.offset if continuation else 0
        body = files.open(obj, offset)
        lines = Lines(body, offset=offset)
        if continuation is None:
            header = header_of(lines, aliases)
            first_row = 2
        else:
            header = Header.from_json(continuation.header)
            first_row = continuation.row
        importer = ListImport(
            list_label=name,
            folder=folder,
            key=obj.key,
            header=header,
            received_at=obj.last_modified,
            aliases=aliases,
            tally=outcome.tally,
        )
        pending: list[CanonicalEvent] = []
        next_progress = PROGRESS_EVERY_ROWS
        for row in read_rows(lines, delimiter=header.delimiter, first_row=first_row):
            event = importer.row_event(row)
            if event is not None:
                pending.append(event)
            if len(pending) < CHUNK_ROWS:
                continue
            send(pending)
            outcome.events_sent += len(pending)
            pending = []
            if progress is not None and row.number >= next_progress:
                next_progress = row.number + PROGRESS_EVERY_ROWS
                progress({"row": row.number, "offset": row.end_offset, "size": obj.size, **outcome.summary()})
            if time_left is not None and time_left() < MARGIN_SECONDS:
                outcome.continuation = Continuation(
                    bucket=obj.bucket,
                    key=obj.key,
                    etag=obj.etag,
                    size=obj.size,
                    last_modified=obj.last_modified,
                    offset=row.end_offset,
                    row=row.number + 1,
                    header=header.to_json(),
                    invocation=invocation + 1,
                )
                report("in_progress", {"progress": {"offset": row.end_offset, "row": row.number}})
                return outcome
        if pending:
            send(pending)
            outcome.events_sent += len(pending)
    except FileChanged:
        outcome.status = "changed"
        return outcome
    except ImportFileError as exc:
        outcome.status = "failed"
        outcome.error = exc.message
        report("failed", {"error": exc.message, "finished_at": now().isoformat()})
        return outcome
    outcome.status = "complete"
    report("complete", {"finished_at": now().isoformat()})
    return outcome


# ------------------------------------------------------------------------------ the import queue
def handle_message(body: Any, time_left: Callable[[], float] | None) -> list[str]:
    """One message of the import queue: an S3 notification (each created ``.csv`` under the prefix is
    imported), S3's test event (nothing to do) or a continuation this function queued. Returns each
    import's status. A message that is none of those raises (it fails alone, then dead-letters)."""
    if isinstance(body, dict) and body.get("kind") == "list_import_continuation":
        continuation = Continuation.model_validate(body)
        return [_run(continuation.object(), time_left, continuation).status]
    if isinstance(body, dict) and "Records" not in body:
        S3TestEvent.model_validate(body)  # sent once when the notification is configured: nothing to do
        return []
    prefix = get_settings().imports_prefix
    statuses: list[str] = []
    for s3_record in S3Notification.model_validate(body).records:
        key = s3_record.key
        if not (s3_record.created and key.startswith(prefix) and key.lower().endswith(".csv")):
            count("ListImportsIgnored")
            continue
        obj = ImportObject(
            bucket=s3_record.s3.bucket.name,
            key=key,
            etag=s3_record.s3.object.etag.strip('"'),
            size=s3_record.s3.object.size,
            last_modified=s3_record.event_time,
        )
        statuses.append(_run(obj, time_left).status)
    return statuses


def _run(
    obj: ImportObject, time_left: Callable[[], float] | None, continuation: Continuation | None = None
) -> ImportOutcome:
    settings = get_settings()
    queue_url = require(settings.events_queue_url, "EVENTS_QUEUE_URL")
    outcome = import_file(
        ImportFiles(obj.bucket),
        obj,
        lambda events: enqueue(events, queue_url),
        prefix=settings.imports_prefix,
        time_left=time_left,
        progress=lambda p: logger.info("import progress", extra=p),
        continuation=continuation,
        extra_aliases=IngestConfig.from_env().field_aliases,
    )
    if outcome.continuation is not None:
        continue_later(
            require(settings.imports_queue_url, "IMPORTS_QUEUE_URL"), outcome.continuation.model_dump_json()
        )
    count("ListImportRows", outcome.tally.rows)
    count("ListImportEvents", outcome.events_sent)
    count("ListImports", status=outcome.status)
    logger.info(
        "list import", extra={"report": outcome.report_key, **outcome.summary(), "error": outcome.error}
    )
    return outcome
