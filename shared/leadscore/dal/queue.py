"""Put accepted events on the events queue: one SQS message per ``CanonicalEvent`` (``model_dump_json()``).

SendMessageBatch takes at most 10 entries and 256 KiB per call, so events go in chunks bounded by both.
Entries SQS reports as failed for a transient reason are retried a few times with a short backoff (botocore
itself already retries throttled or failed *calls*). If anything is still not queued, :class:`EnqueueError`
is raised: the handler answers 503 and the sender retries the whole request. Events queued by the first
attempt are then queued again, which is safe: the scorer deduplicates by ``event_id``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from leadscore.dal.clients import sqs
from leadscore.errors import LeadscoreError
from leadscore.models.event import CanonicalEvent

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
DEFAULT_ATTEMPTS = 4
BACKOFF_SECONDS = 0.05


class EnqueueError(LeadscoreError):
    """Some accepted events could not be queued. ``failed`` of ``total``; ``codes`` are SQS error codes."""

    def __init__(self, message: str, *, failed: int, total: int, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.failed = failed
        self.total = total
        self.codes = sorted(set(codes))


def _chunks(entries: Sequence[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    chunk: list[tuple[str, str]] = []
    size = 0
    for entry_id, body in entries:
        body_size = len(body.encode("utf-8"))
        if body_size > MAX_BATCH_BYTES:
            raise EnqueueError(
                f"an event is {body_size} bytes, over the SQS limit", failed=1, total=len(entries)
            )
        if chunk and (len(chunk) == MAX_BATCH_ENTRIES or size + body_size > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((entry_id, body))
        size += body_size
    if chunk:
        yield chunk


def enqueue(
    events: Sequence[CanonicalEvent],
    queue_url: str,
    *,
    max_attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    trace_id: str | None = None,
) -> None:
    """Queue every event, or raise :class:`EnqueueError`. Returns only when SQS accepted all of them."""
    if not events:
        return
    if trace_id:  # the request's id follows each event that has none of its own (correlation id)
        events = [e if e.trace_id else e.model_copy(update={"trace_id": trace_id[:128]}) for e in events]
    entries = [(str(index), event.model_dump_json()) for index, event in enumerate(events)]
    for chunk in _chunks(entries):
        _send(chunk, queue_url, total=len(entries), max_attempts=max_attempts, sleep=sleep)


def _send(
    chunk: list[tuple[str, str]],
    queue_url: str,
    *,
    total: int,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    pending = dict(chunk)
    codes: list[str] = []
    for attempt in range(max(1, max_attempts)):
        if attempt:
            sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
        try:
            response = sqs().send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": entry_id, "MessageBody": body} for entry_id, body in pending.items()],
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            raise EnqueueError(
                f"SendMessageBatch failed: {code}", failed=len(pending), total=total, codes=[code]
            ) from exc
        except BotoCoreError as exc:
            raise EnqueueError(
                f"SendMessageBatch failed: {type(exc).__name__}", failed=len(pending), total=total
            ) from exc
        failed = response.get("Failed", [])
        if not failed:
            return
        codes = [f.get("Code", "") for f in failed]
        sender_faults = [f for f in failed if f.get("SenderFault")]
        if sender_faults:  # the message itself is wrong: retrying the same bytes cannot help
            raise EnqueueError(
                "SQS rejected events as invalid",
                failed=len(failed),
                total=total,
                codes=[f.get("Code", "") for f in sender_faults],
            )
        pending = {f["Id"]: pending[f["Id"]] for f in failed if f["Id"] in pending}
        if not pending:
            return
    raise EnqueueError(
        f"{len(pending)} events were not queued after {max_attempts} attempts",
        failed=len(pending),
        total=total,
        codes=codes,
    )
