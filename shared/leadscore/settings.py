"""Environment settings, validated once per container. Names match template.yaml's Globals/Environment."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadscore.errors import ConfigurationError

# An http(s) URL without spaces, quotes or angle brackets, naming "{lead_id}" once and no other "{}".
LEAD_URL_PATTERN = r'^(https?://[^\s{}<>"]*\{lead_id\}[^\s{}<>"]*)?$'


class Settings(BaseModel):
    """Every environment variable a function may read. Each function reads only what it needs."""

    model_config = ConfigDict(frozen=True)

    leads_table: str = Field(default="", alias="LEADS_TABLE")
    rules_bucket: str = Field(default="", alias="RULES_BUCKET")
    rules_key: str = Field(default="rules/current.json", alias="RULES_KEY")
    rules_refresh_seconds: int = Field(default=60, ge=1, le=3600, alias="RULES_REFRESH_SECONDS")
    events_queue_url: str = Field(default="", alias="EVENTS_QUEUE_URL")
    alerts_topic_arn: str = Field(default="", alias="ALERTS_TOPIC_ARN")
    lead_events_bus: str = Field(default="", alias="LEAD_EVENTS_BUS")  # docs/events.md
    sales_ready_threshold: float | None = Field(
        default=None, allow_inf_nan=False, alias="SALES_READY_THRESHOLD"
    )  # finite: it becomes the stored threshold when the rules give none
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, alias="MAX_BODY_BYTES")
    history_ttl_days: int = Field(default=400, ge=1, alias="HISTORY_TTL_DAYS")
    sweep_queue_url: str = Field(default="", alias="SWEEP_QUEUE_URL")
    events_dlq_url: str = Field(default="", alias="EVENTS_DLQ_URL")
    imports_queue_url: str = Field(default="", alias="IMPORTS_QUEUE_URL")  # list-import continuations
    imports_prefix: str = Field(default="imports/", min_length=1, alias="IMPORTS_PREFIX")
    # Alerts link to the lead: an http(s) URL with "{lead_id}" (template.yaml's LeadUrlTemplate).
    lead_url_template: str = Field(
        default="", max_length=1024, pattern=LEAD_URL_PATTERN, alias="LEAD_URL_TEMPLATE"
    )
    # CRM write-back (CrmSyncFunction; docs/connect.md, "CRM write-back"): empty ARN = that CRM off.
    hubspot_token_secret_arn: str = Field(default="", alias="HUBSPOT_TOKEN_SECRET_ARN")
    salesforce_secret_arn: str = Field(default="", alias="SALESFORCE_SECRET_ARN")
    salesforce_object: Literal["Lead", "Contact"] = Field(default="Lead", alias="SALESFORCE_OBJECT")
    crm_retry_queue_url: str = Field(default="", alias="CRM_RETRY_QUEUE_URL")
    crm_dlq_url: str = Field(default="", alias="CRM_DLQ_URL")
    crm_requests_per_10s: int = Field(default=50, ge=1, le=1000, alias="CRM_REQUESTS_PER_10S")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the environment once. Tests call ``get_settings.cache_clear()`` after changing it."""
    values = {k: v for k, v in os.environ.items() if k in _NAMES and v != ""}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise ConfigurationError(f"invalid environment settings: {fields}") from exc


def require(value: str, name: str) -> str:
    """Fail clearly when a function needs a setting its template entry did not give it."""
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


_NAMES = {f.alias for f in Settings.model_fields.values() if f.alias}
