"""Erase a person's events from the events dead-letter queue.

SQS cannot delete a message by its content: the queue is read through. Every message is received
with a visibility timeout long enough for the whole scan (so none comes back twice in one scan), the
person's are deleted, and the others are made visible again at the end, untouched. A message matches
when it parses as an event of one of the erased leads, or when its raw body contains the address (a
message that never parsed may still hold it). Messages another consumer holds (in flight) cannot be
seen: the scan says it was incomplete, and running the erasure again finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from leadscore.dal.clients import sqs
from leadscore.models.event import CanonicalEvent, lead_id_for_anonymous

HOLD_SECONDS = 900  # the longest the erasure function runs: nothing returns during one scan
MAX_MESSAGES = 20_000


@dataclass
class Purge:
    scanned: int = 0
    deleted: int = 0
    complete: bool = True  # False: out of time or budget, or messages were in flight elsewhere


def belongs(body: str, leads: Collection[str], email: str | None) -> bool:
    """Whether a dead-lettered message is about one of ``leads`` (or names ``email``)."""
    if email and email.lower() in body.lower():
        return True
    try:
        event = CanonicalEvent.model_validate_json(body)
    except ValueError:
        return False
    anonymous = event.identity.anonymous_id
    return event.lead_id in leads or (anonymous is not None and lead_id_for_anonymous(anonymous) in leads)


def _in_flight(queue_url: str) -> int:
    attrs = sqs().get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    return int(attrs.get("Attributes", {}).get("ApproximateNumberOfMessagesNotVisible", "0"))


def purge(
    queue_url: str,
    leads: Collection[str],
    email: str | None,
    time_left: Callable[[], float] = lambda: 3_600.0,
    max_messages: int = MAX_MESSAGES,
) -> Purge:
    """Delete the messages of ``leads`` from the queue; leave every other message as it was."""
    client = sqs()
    report = Purge()
    in_flight_before = _in_flight(queue_url)
    held: list[Any] = []  # the messages to make visible again
    try:
        while True:
            if time_left() < 30 or report.scanned >= max_messages:
                report.complete = False
                break
            messages = client.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=HOLD_SECONDS, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            report.scanned += len(messages)
            mine = [m for m in messages if belongs(m.get("Body", ""), leads, email)]
            held += [m for m in messages if m not in mine]
            if mine:
                failed = client.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)],
                ).get("Failed", [])
                report.deleted += len(mine) - len(failed)
                if failed:  # left in the queue: the next run finds them
                    report.complete = False
    finally:
        for start in range(0, len(held), 10):
            chunk = held[start : start + 10]
            client.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ],
            )
    if in_flight_before:
        report.complete = False
    return report
