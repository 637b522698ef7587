"""S3 side of list imports: the CSV object (streamed, from a byte offset), its report, and the import
queue a long import continues on. boto3 stays here; :mod:`leadscore.services.list_import` sees bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadscore.dal.clients import s3, sqs

REPORT_SUFFIX = ".report.json"


class FileChanged(Exception):
    """The object is not the one the import started on (replaced or deleted): its own event re-imports it."""


@dataclass(frozen=True)
class ImportObject:
    """The file as its S3 event describes it (no HeadObject needed)."""

    bucket: str
    key: str
    etag: str
    size: int
    last_modified: datetime


def report_key(key: str) -> str:
    """``imports/x.csv`` → ``imports/x.csv.report.json``: next to the file, never ending in ``.csv``."""
    return key + REPORT_SUFFIX


class ImportFiles:
    """Reads import files and reads/writes their reports in one bucket."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def open(self, obj: ImportObject, offset: int = 0) -> Any:
        """The body from ``offset``, streamed; only if the object still has the ETag the import began on."""
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {"Bucket": self.bucket, "Key": obj.key}
        if obj.etag:
            request["IfMatch"] = f'"{obj.etag}"'
        if offset:
            request["Range"] = f"bytes={offset}-"
        try:
            return s3().get_object(**request)["Body"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                raise FileChanged(obj.key) from exc
            raise

    def read_report(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            body = s3().get_object(Bucket=self.bucket, Key=report_key(key))["Body"].read()
        except ClientError as exc:
            # 404 (not 403) for a missing key needs s3:ListBucket on the bucket (granted on imports/*).
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            report = json.loads(body)
        except ValueError:
            return None
        return report if isinstance(report, dict) else None

    def write_report(self, key: str, report: dict[str, Any]) -> str:
        target = report_key(key)
        s3().put_object(
            Bucket=self.bucket,
            Key=target,
            Body=json.dumps(report, ensure_ascii=False, indent=1).encode(),
            ContentType="application/json",
        )
        return target


def continue_later(queue_url: str, message: str) -> None:
    """Queue the rest of an import (a continuation message) for a following invocation."""
    sqs().send_message(QueueUrl=queue_url, MessageBody=message)
