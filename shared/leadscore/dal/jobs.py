"""Fan-out work: job messages on the sweep queue, and the progress of a ``rescore --all`` job.

A message is one bounded piece of work: one shard of the ``due`` index (the sweep) or one segment of
a parallel scan (``rescore --all``), from a start key. A worker that runs low on time sends the rest
as a new message with the key it stopped after, so a piece never outlives its function's timeout and
many workers run at once. A job's progress lives in the leads table (``JOB#<id>``): one item per
segment, with counts and the key the segment continues after, so a job can be watched and resumed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadscore.dal import clients


class JobMessage(BaseModel):
    """A sweep-queue message."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sweep", "rescore"]
    until: int = 0  # sweep: leads due by then
    shard: int = 0  # sweep: the ``due`` shard (-1: items from before sharding)
    job: str = Field(default="", max_length=64)  # rescore: the job id
    segment: int = 0
    total: int = 1
    alerts: bool = False  # rescore: may a rebuild that crosses alert (default: never)
    start: dict[str, Any] | None = None  # the key to continue after


class SegmentProgress(BaseModel):
    segment: int
    visited: int = 0
    rescored: int = 0
    failed: int = 0
    done: bool = False
    start: dict[str, Any] | None = None


class Jobs:
    def __init__(self, table: str, queue_url: str) -> None:
        self.table = table
        self.queue_url = queue_url

    def enqueue(self, messages: list[JobMessage]) -> None:
        sqs = clients.sqs()
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(n), "MessageBody": m.model_dump_json()}
                for n, m in enumerate(messages[start : start + 10])
            ]
            response = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} job messages were not queued")

    def _key(self, job: str, segment: int | None) -> dict[str, Any]:
        sk = "META" if segment is None else f"SEG#{segment:04d}"
        return {"pk": {"S": f"JOB#{job}"}, "sk": {"S": sk}}

    def create(self, job: str, total: int, alerts: bool, now: int) -> None:
        clients.dynamodb().put_item(
            TableName=self.table,
            Item={
                **self._key(job, None),
                "total": {"N": str(total)},
                "alerts": {"BOOL": alerts},
                "created_at": {"N": str(now)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def record(
        self, job: str, segment: int, visited: int, rescored: int, failed: int, start: dict[str, Any] | None
    ) -> None:
        """Add one page's counts to a segment and move its continuation key (None: finished)."""
        values: dict[str, Any] = {
            ":v": {"N": str(visited)},
            ":r": {"N": str(rescored)},
            ":f": {"N": str(failed)},
            ":done": {"BOOL": start is None},
        }
        expression = "ADD visited :v, rescored :r, failed :f SET done = :done"
        if start is None:
            expression += " REMOVE start_key"
        else:
            expression += ", start_key = :k"
            values[":k"] = {"S": json.dumps(start, sort_keys=True)}
        clients.dynamodb().update_item(
            TableName=self.table,
            Key=self._key(job, segment),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )

    def progress(self, job: str) -> tuple[dict[str, Any] | None, list[SegmentProgress]]:
        """The job's meta item and each segment's progress (segments not yet started are absent)."""
        response = clients.dynamodb().query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"JOB#{job}"}},
            ConsistentRead=True,
        )
        meta: dict[str, Any] | None = None
        segments: list[SegmentProgress] = []
        for item in response.get("Items", []):
            if item["sk"]["S"] == "META":
                meta = {"total": int(item["total"]["N"]), "alerts": item["alerts"]["BOOL"]}
                continue
            segments.append(
                SegmentProgress(
                    segment=int(item["sk"]["S"].removeprefix("SEG#")),
                    visited=int(item.get("visited", {}).get("N", 0)),
                    rescored=int(item.get("rescored", {}).get("N", 0)),
                    failed=int(item.get("failed", {}).get("N", 0)),
                    done=bool(item.get("done", {}).get("BOOL", False)),
                    start=json.loads(item["start_key"]["S"]) if "start_key" in item else None,
                )
            )
        return meta, sorted(segments, key=lambda s: s.segment)
