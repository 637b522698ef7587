"""The messages on the import queue: S3 event notifications (as S3 writes them to SQS), S3's test event,
and continuations of a long import. Validated with pydantic; anything else is a malformed message.

Shapes follow the S3 User Guide, "Event message structure" (eventVersion 2.x): ``Records[].s3.bucket.name``,
``Records[].s3.object.key`` (URL-encoded, ``+`` for a space: decode with ``unquote_plus``), ``size``,
``eTag``; and the ``s3:TestEvent`` S3 sends once when a notification configuration is saved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from leadscore.ingest.list_import import object_key


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class S3Bucket(_Model):
    name: str = Field(min_length=3, max_length=63)


class S3Object(_Model):
    key: str = Field(min_length=1, max_length=4096)  # URL-encoded
    size: int = Field(default=0, ge=0)
    etag: str = Field(default="", alias="eTag", max_length=100)


class S3Entity(_Model):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Model):
    event_name: str = Field(alias="eventName", max_length=100)
    event_time: datetime = Field(alias="eventTime")
    s3: S3Entity

    @property
    def key(self) -> str:
        return object_key(self.s3.object.key)

    @property
    def created(self) -> bool:
        return self.event_name.startswith("ObjectCreated:")


class S3Notification(_Model):
    records: list[S3Record] = Field(alias="Records", max_length=100)


class S3TestEvent(_Model):
    event: Literal["s3:TestEvent"] = Field(alias="Event")
