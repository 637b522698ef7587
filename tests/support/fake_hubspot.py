"""A local HubSpot CRM v3 that enforces the documented contract the write-back relies on.

Follows (see docs/connect.md, "CRM write-back"):
- Batch upsert contacts: https://developers.hubspot.com/docs/api-reference/latest/crm/objects/contacts/batch/upsert-contacts
  (``inputs`` with ``idProperty``/``id``; at most 100 inputs; duplicate ids in one batch are refused);
- Properties: https://developers.hubspot.com/docs/api/crm/properties (create a group and properties;
  409 when one exists; writing a property that does not exist is a 400 ``VALIDATION_ERROR`` whose
  error code is ``PROPERTY_DOESNT_EXIST``);
- Error handling: https://developers.hubspot.com/docs/api-reference/error-handling (401 for bad auth,
  207 multi-status naming the failed inputs by ``objectWriteTraceId``);
- Usage guidelines / limits by tier: https://developers.hubspot.com/apisbytier (100-190 requests per
  10 seconds for a private app; 429 past it, ``policyName`` TEN_SECONDLY_ROLLING, with ``Retry-After``).
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.fake_api import Answer, FakeApi

MAX_INPUTS = 100
UPSERT = "/crm/v3/objects/contacts/batch/upsert"
DEFAULT_PROPERTIES = {"email", "firstname", "lastname", "company", "lifecyclestage"}


class FakeHubSpot(FakeApi):
    def __init__(self, token: str = "pat-test-token", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens = {token}
        self.properties: set[str] = set(DEFAULT_PROPERTIES)
        self.groups: set[str] = {"contactinformation"}
        self.contacts: dict[str, dict[str, str]] = {}
        self.regressions: list[tuple[str, int, int]] = []  # (email, stored version, older version written)

    def rate_limit_body(self) -> Any:
        return {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
        }

    def batch_size(self, path: str, body: Any) -> int:
        return len(body.get("inputs", [])) if path.startswith(UPSERT) and isinstance(body, dict) else 0

    def handle(self, method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        refused = self.gate(
            headers,
            lambda token: token in self.tokens,
            {
                "status": "error",
                "message": "Authentication credentials not found.",
                "correlationId": str(uuid.uuid4()),
                "category": "INVALID_AUTHENTICATION",
            },
        )
        if refused is not None:
            return refused
        route = (method, path.split("?", maxsplit=1)[0])
        if route == ("POST", UPSERT):
            return self._upsert(body)
        if route == ("POST", "/crm/v3/properties/contacts/groups"):
            return self._group(body)
        if route == ("POST", "/crm/v3/properties/contacts"):
            return self._property(body)
        return 404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}, {}

    @staticmethod
    def _validation(message: str, code: str | None = None, context: dict[str, Any] | None = None) -> Answer:
        error: dict[str, Any] = {"message": message}
        if code:
            error["code"] = code
        if context:
            error["context"] = context
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": "VALIDATION_ERROR",
            "errors": [error],
        }
        return 400, body, {}

    def _upsert(self, body: Any) -> Answer:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            return self._validation("inputs is required")
        if len(inputs) > MAX_INPUTS:
            return self._validation(f"Batch input size {len(inputs)} exceeds the limit of {MAX_INPUTS}")
        ids = [str(i.get("id", "")).lower() for i in inputs]
        if len(set(ids)) != len(ids):
            return self._validation("Duplicate IDs found in batch input")
        for item in inputs:
            if item.get("idProperty") != "email":
                return self._validation("idProperty must be a unique property (email)")
            for name in item.get("properties", {}):
                if name not in self.properties:
                    return self._validation(
                        f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST", {"propertyName": [name]}
                    )
        results, errors = [], []
        for item, email in zip(inputs, ids, strict=True):
            trace = item.get("objectWriteTraceId")
            if "@" not in email:
                if trace is None:  # without a trace id the whole batch fails
                    return self._validation(f"Property values were not valid: email {email!r}")
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": "Email address is invalid",
                        "context": {"objectWriteTraceId": [trace]},
                    }
                )
                continue
            results.append(self._write(email, item.get("properties", {}), trace))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            answer.update(errors=errors, numErrors=len(errors))
            return 207, answer, {}
        return 200, answer, {}

    def _write(self, email: str, properties: dict[str, str], trace: Any) -> dict[str, Any]:
        with self.lock:
            stored = self.contacts.setdefault(
                email, {"email": email, "hs_object_id": str(len(self.contacts) + 1)}
            )
            old, new = stored.get("leadscore_version"), properties.get("leadscore_version")
            if old is not None and new is not None and int(new) < int(old):
                self.regressions.append((email, int(old), int(new)))
            stored.update(properties)
            return {"id": stored["hs_object_id"], "properties": dict(stored), "objectWriteTraceId": trace}

    def _group(self, body: Any) -> Answer:
        name = body.get("name") if isinstance(body, dict) else None
        if not name or not body.get("label"):
            return self._validation("name and label are required")
        if name in self.groups:
            return 409, {"status": "error", "category": "OBJECT_ALREADY_EXISTS", "message": "exists"}, {}
        self.groups.add(name)
        return 201, {"name": name, "label": body["label"]}, {}

    def _property(self, body: Any) -> Answer:
        needed = ("name", "label", "type", "fieldType", "groupName")
        if not isinstance(body, dict) or any(not body.get(k) for k in needed):
            return self._validation("name, label, type, fieldType and groupName are required")
        if body["groupName"] not in self.groups:
            return self._validation(f"group {body['groupName']} does not exist")
        if (body["type"], body["fieldType"]) not in {
            ("number", "number"),
            ("string", "text"),
            ("string", "textarea"),
            ("datetime", "date"),
        }:
            return self._validation("type and fieldType do not match")
        if body["name"] in self.properties:
            message = f"A property named '{body['name']}' already exists."
            return 409, {"status": "error", "category": "OBJECT_ALREADY_EXISTS", "message": message}, {}
        self.properties.add(body["name"])
        return 201, dict(body), {}
