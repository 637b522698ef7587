"""SES events through an SNS topic subscribed directly to a Lambda function (no HTTP endpoint).

SNS invokes the function asynchronously with ``{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}``
(https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html). Each ``Sns.Message`` is an SES event: an
event-publishing record (``eventType``: Send, Delivery, Open, Click, Bounce, Complaint, Reject,
Rendering Failure, DeliveryDelay, Subscription) or an older notification (``notificationType``: Bounce,
Complaint, Delivery). Both are parsed by :func:`leadscore.ingest.providers.ses.ses_message_events`, the
parser of ``POST /webhooks/ses``: one parser, two transports, one event id
(``ses:<mail.messageId>:<event type>:<event time>:<recipient #>``), so an event SNS delivers twice, or
through both transports, is counted once.

There is no signature to check: only the topic named by the function's resource policy
(``SesEventsPermission``, ``SourceArn`` = ``SesEventsTopicArn``) can invoke it through SNS. A record that
is not an SES event is answered, counted and logged (by reason, never by content) rather than raised:
retrying it cannot help. Only a failure to queue the events raises, so Lambda retries the invocation and
then keeps it in ``AsyncFailuresDLQ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadscore.ingest.errors import MalformedBodyError
from leadscore.ingest.normalize import parse_time
from leadscore.ingest.providers.ses import ses_message_events
from leadscore.ingest.request import IngestRequest, wall_clock
from leadscore.ingest.result import IngestResult, describe_validation_error


class SnsMessage(BaseModel):
    """What SES events need of ``Records[].Sns`` (the rest of the envelope is allowed and unused)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = Field(alias="Type")
    message_id: str = Field(alias="MessageId", min_length=1, max_length=100)
    topic_arn: str = Field(alias="TopicArn", min_length=1, max_length=1024)
    message: str = Field(alias="Message")
    timestamp: str | None = Field(default=None, alias="Timestamp")


class SnsRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    event_source: str = Field(alias="EventSource", pattern="^aws:sns$")
    sns: SnsMessage = Field(alias="Sns")


def record_result(record: Any) -> IngestResult:
    """One SNS record → its SES events (and rejected/ignored items, as on the HTTP route)."""
    result = IngestResult(source="ses")
    try:
        parsed = SnsRecord.model_validate(record)
    except ValidationError as exc:
        result.reject(0, "; ".join(describe_validation_error(exc)))
        return result
    if parsed.sns.type != "Notification":
        result.ignore(0, f"SNS {parsed.sns.type[:40]!r} messages carry no SES event")
        return result
    now = wall_clock()
    sent = parse_time(parsed.sns.timestamp)
    received = datetime.fromtimestamp(now, tz=UTC)
    request = IngestRequest(
        method="SNS",
        path="/sns",
        body=b"",
        received_at=sent if sent is not None and sent <= received else received,
        now=now,
    )
    try:
        return ses_message_events(parsed.sns.message, parsed.sns.message_id, request)
    except MalformedBodyError as exc:
        result.reject(0, exc.message)
        return result


def records(event: Mapping[str, Any]) -> list[Any]:
    listed = event.get("Records") if isinstance(event, Mapping) else None
    return listed if isinstance(listed, list) else []
