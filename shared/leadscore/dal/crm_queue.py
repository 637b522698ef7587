"""The CRM sync's parking queues: messages to the retry queue or the DLQ, 10 per SendMessageBatch."""

from __future__ import annotations

from collections.abc import Sequence

from leadscore.dal.clients import sqs

BATCH = 10


def send(queue_url: str, bodies: Sequence[tuple[str, str]], delay_seconds: int = 0) -> list[str]:
    """Send ``(key, body)`` pairs; return the keys SQS did not accept (or all, if the call failed)."""
    failed: list[str] = []
    for start in range(0, len(bodies), BATCH):
        chunk = list(bodies[start : start + BATCH])
        entries = [
            {"Id": str(i), "MessageBody": body, "DelaySeconds": delay_seconds}
            for i, (_, body) in enumerate(chunk)
        ]
        try:
            answer = sqs().send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
        except Exception:  # botocore already retried: the caller fails the records instead
            failed.extend(key for key, _ in chunk)
            continue
        failed.extend(chunk[int(f["Id"])][0] for f in answer.get("Failed", []))
    return failed
