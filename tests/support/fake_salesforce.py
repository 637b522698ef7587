"""A local Salesforce REST API that enforces the documented contract the write-back relies on.

Follows (see docs/connect.md, "CRM write-back"):
- Upsert records using sObject Collections:
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html
  (``PATCH /services/data/vXX.X/composite/sobjects/<SObject>/<ExternalIdField>``; at most 200
  records, each with ``attributes.type`` equal to the SObject; ``allOrNone``; one result per record,
  in order; a 400 for a request that is not well formed);
- Status codes and error responses:
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
  (401 ``INVALID_SESSION_ID``, 403 ``REQUEST_LIMIT_EXCEEDED`` past the org's API request limit, 400
  ``INVALID_FIELD`` for a field the object does not have; per record ``REQUIRED_FIELD_MISSING``);
- OAuth 2.0 client credentials flow (``POST /services/oauth2/token``, ``grant_type=client_credentials``).
Not Salesforce's documented behaviour, offered for the resilience tests: ``throttle_next`` (429 with
``Retry-After``, as a proxy in front of it might answer).
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs

from tests.support.fake_api import Answer, FakeApi

MAX_RECORDS = 200
COLLECTION = re.compile(r"^/services/data/v\d+\.\d/composite/sobjects/(?P<sobject>\w+)/(?P<field>\w+)$")
STANDARD = {"Email", "LastName", "FirstName", "Company", "attributes"}
REQUIRED = {"Lead": ("LastName", "Company"), "Contact": ("LastName",)}


class FakeSalesforce(FakeApi):
    def __init__(
        self,
        *,
        access_token: str = "00Dfake!token",
        client_id: str = "cid",
        client_secret: str = "csecret",
        fields: set[str] | None = None,
        daily_limit: int = 100_000,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("limit", 10_000)
        super().__init__(**kwargs)
        self.tokens = {access_token}
        self.client = (client_id, client_secret)
        self.fields = set(fields) if fields is not None else set()
        self.daily_limit = daily_limit
        self.used = 0
        self.records: dict[str, dict[str, dict[str, Any]]] = {"Lead": {}, "Contact": {}}
        self.regressions: list[tuple[str, int, int]] = []

    def define_leadscore_fields(self) -> None:
        from leadscore.crm.mapping import SALESFORCE_EXTERNAL_ID, SALESFORCE_FIELDS

        self.fields |= {SALESFORCE_EXTERNAL_ID, *SALESFORCE_FIELDS}

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def batch_size(self, path: str, body: Any) -> int:
        return len(body.get("records", [])) if COLLECTION.match(path) and isinstance(body, dict) else 0

    def rate_limit_body(self) -> Any:
        return [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        if (method, path) == ("POST", "/services/oauth2/token"):
            return self._token(body)
        refused = self.gate(
            headers,
            lambda token: token in self.tokens,
            [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
        )
        if refused is not None:
            return refused
        self.used += 1
        if self.used > self.daily_limit:
            message = f"TotalRequests Limit exceeded. ({self.daily_limit})"
            return 403, [{"message": message, "errorCode": "REQUEST_LIMIT_EXCEEDED"}], {}
        match = COLLECTION.match(path)
        if method != "PATCH" or match is None:
            return 404, [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], {}
        return self._upsert(match["sobject"], match["field"], body)

    def _token(self, body: Any) -> Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode() if isinstance(body, bytes) else "").items()}
        if form.get("grant_type") != "client_credentials":
            return (
                400,
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
                {},
            )
        if (form.get("client_id"), form.get("client_secret")) != self.client:
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}, {}
        token = "00Dfake!" + secrets.token_hex(8)
        self.tokens.add(token)
        return 200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer"}, {}

    @staticmethod
    def _bad(code: str, message: str) -> Answer:
        return 400, [{"message": message, "errorCode": code}], {}

    def _upsert(self, sobject: str, field: str, body: Any) -> Answer:
        if sobject not in self.records:
            return (
                404,
                [{"message": f"sObject type '{sobject}' is not supported.", "errorCode": "NOT_FOUND"}],
                {},
            )
        if field not in self.fields:
            return self._bad("INVALID_FIELD", f"Field {field} does not exist or is not an External ID field")
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return self._bad("JSON_PARSER_ERROR", "records is required")
        if len(records) > MAX_RECORDS:
            return self._bad("EXCEEDED_ID_LIMIT", f"record limit exceeded: at most {MAX_RECORDS}")
        for record in records:
            if (record.get("attributes") or {}).get("type") != sobject:
                return self._bad("INVALID_TYPE", "each record needs attributes.type equal to the sObject")
            unknown = sorted(set(record) - self.fields - STANDARD)
            if unknown:
                return self._bad(
                    "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}"
                )
        return 200, [self._one(sobject, field, r) for r in records], {}

    def _one(self, sobject: str, field: str, record: dict[str, Any]) -> dict[str, Any]:
        key = str(record.get(field) or "")
        if not key:
            return _failure("MISSING_ARGUMENT", f"{field} not specified", [field])
        fields = {k: v for k, v in record.items() if k != "attributes"}
        with self.lock:
            stored = self.records[sobject].get(key)
            if stored is None:
                missing = [f for f in REQUIRED[sobject] if not fields.get(f)]
                if missing:
                    return _failure(
                        "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", missing
                    )
                stored = self.records[sobject][key] = {"Id": f"00Q{len(self.records[sobject]):015d}"}
                created = True
            else:
                created = False
                old, new = stored.get("Leadscore_Version__c"), fields.get("Leadscore_Version__c")
                if old is not None and new is not None and int(new) < int(old):
                    self.regressions.append((key, int(old), int(new)))
            stored.update(fields)
            return {"id": stored["Id"], "success": True, "errors": [], "created": created}


def _failure(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields}]}
