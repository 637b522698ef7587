"""HubSpot CRM v3 write-back: contacts upserted by email in batches of 100, and the properties helper.

- ``POST /crm/v3/objects/contacts/batch/upsert``: at most 100 inputs; each carries an
  ``objectWriteTraceId`` (lead id and version) so a 207 multi-status answer names the inputs that
  failed. A 400 for a property that does not exist is a setup problem (:class:`CrmConfigError`:
  run ``leadscore crm hubspot create-properties``); any other 400 is split in halves until the bad
  input is alone, so one bad contact never parks 99 good ones.
- 401: the token is fetched again once (it may have been rotated), then :class:`CrmAuthError`.
- ``POST /crm/v3/properties/contacts/groups`` and ``/crm/v3/properties/contacts``: 409 = exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from leadscore.crm.mapping import (
    PROPERTY_GROUP,
    CrmRecord,
    hubspot_input,
    hubspot_property_definitions,
)
from leadscore.dal.crm_http import CrmAuthError, CrmConfigError, CrmHttp, CrmUnavailable, Response, error_code
from leadscore.dal.crm_secrets import HubSpotSecret

MAX_BATCH = 100
UPSERT_PATH = "/crm/v3/objects/contacts/batch/upsert"


@dataclass
class SyncResult:
    """Per lead id: synced, or failed with a short reason (``retryable`` or not)."""

    synced: list[str] = field(default_factory=list)
    failed: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def merge(self, other: SyncResult) -> None:
        self.synced.extend(other.synced)
        self.failed.update(other.failed)


def in_batches(
    records: Sequence[CrmRecord], size: int, batch: Callable[[list[CrmRecord]], SyncResult]
) -> SyncResult:
    """Send ``records`` as consecutive requests of at most ``size`` (a CRM's batch limit)."""
    result = SyncResult()
    for start in range(0, len(records), size):
        result.merge(batch(list(records[start : start + size])))
    return result


def trace_id(record: CrmRecord) -> str:
    return f"{record.lead_id}:{record.ver}"


@dataclass
class HubSpot:
    http: CrmHttp
    secret: Callable[[bool], HubSpotSecret]  # fresh=True after a 401

    def _send(self, method: str, path: str, body: object) -> Response:
        secret = self.secret(False)
        response = self.http.send(method, secret.base_url.rstrip("/") + path, secret.token, body)
        if response.status == 401:  # maybe rotated: read the secret again, once
            secret = self.secret(True)
            response = self.http.send(method, secret.base_url.rstrip("/") + path, secret.token, body)
        if response.status in (401, 403):
            raise CrmAuthError(f"hubspot HTTP {response.status} {error_code(response.body)}".strip())
        return response

    def upsert(self, records: Sequence[CrmRecord]) -> SyncResult:
        return in_batches(records, MAX_BATCH, self._batch)

    def _batch(self, records: list[CrmRecord]) -> SyncResult:
        inputs = [{**hubspot_input(r), "objectWriteTraceId": trace_id(r)} for r in records]
        response = self._send("POST", UPSERT_PATH, {"inputs": inputs})
        if response.status in (200, 201):
            return SyncResult(synced=[r.lead_id for r in records])
        if response.status == 207:
            return _multi_status(records, response.body)
        code = error_code(response.body)
        if response.status == 400 and "PROPERTY_DOESNT_EXIST" in _text(response.body):
            raise CrmConfigError(
                "hubspot 400 PROPERTY_DOESNT_EXIST: run leadscore crm hubspot create-properties"
            )
        if response.status == 400 and len(records) > 1:
            half = len(records) // 2
            out = self._batch(records[:half])
            out.merge(self._batch(records[half:]))
            return out
        if response.status == 400:
            return SyncResult(failed={records[0].lead_id: (f"hubspot 400 {code}".strip(), False)})
        raise CrmUnavailable(f"hubspot HTTP {response.status} {code}".strip())

    def create_properties(self) -> dict[str, str]:
        """Create the property group and each ``leadscore_*`` property; ``{name: created|exists}``."""
        done: dict[str, str] = {}
        group = {"name": PROPERTY_GROUP, "label": "Lead score", "displayOrder": -1}
        for name, path, body in [(PROPERTY_GROUP, "/crm/v3/properties/contacts/groups", group)] + [
            (p["name"], "/crm/v3/properties/contacts", p) for p in hubspot_property_definitions()
        ]:
            response = self._send("POST", path, body)
            if response.status in (200, 201):
                done[name] = "created"
            elif response.status == 409:
                done[name] = "exists"
            else:
                raise CrmConfigError(f"hubspot HTTP {response.status} {error_code(response.body)} for {name}")
        return done


def _text(body: object) -> str:
    import json

    return json.dumps(body) if body is not None else ""


def _multi_status(records: list[CrmRecord], body: object) -> SyncResult:
    """A 207: the inputs named by an error's ``objectWriteTraceId`` failed, the others were written."""
    by_trace = {trace_id(r): r for r in records}
    failed: dict[str, tuple[str, bool]] = {}
    errors = body.get("errors", []) if isinstance(body, dict) else []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        context = error.get("context") if isinstance(error.get("context"), dict) else {}
        reason = f"hubspot {error.get('status', 'error')} {error.get('category', '')}".strip()[:80]
        for trace in (context or {}).get("objectWriteTraceId", []) or []:
            record = by_trace.get(str(trace))
            if record is not None:
                failed[record.lead_id] = (reason, False)
    if errors and not failed:  # errors we cannot attribute: retry all of them later
        return SyncResult(failed={r.lead_id: ("hubspot 207 unattributed errors", True) for r in records})
    return SyncResult(synced=[r.lead_id for r in records if r.lead_id not in failed], failed=failed)
