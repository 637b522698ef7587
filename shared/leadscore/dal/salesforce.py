"""Salesforce REST write-back: Lead (or Contact) fields upserted by the external id ``Leadscore_Id__c``.

- ``PATCH /services/data/vXX.X/composite/sobjects/<Lead|Contact>/Leadscore_Id__c`` with
  ``allOrNone: false`` and at most 200 records; the answer lists one result per record, in order.
  A record that does not exist yet fails with ``REQUIRED_FIELD_MISSING`` (LastName, Company): those
  are sent once more with the creation fields, so an update never overwrites a rep's name or company.
- 401 ``INVALID_SESSION_ID``: with client credentials a new token is requested once; otherwise (or
  again) :class:`CrmAuthError`. 403 ``REQUEST_LIMIT_EXCEEDED`` (the org's 24-hour API limit):
  :class:`CrmUnavailable`, retried later. A 400 on the whole request (``INVALID_FIELD``: the custom
  fields are missing) is :class:`CrmConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from leadscore.crm.mapping import SALESFORCE_EXTERNAL_ID, CrmRecord, salesforce_record
from leadscore.dal.crm_http import CrmAuthError, CrmConfigError, CrmHttp, CrmUnavailable, Response, error_code
from leadscore.dal.crm_secrets import SalesforceSecret
from leadscore.dal.hubspot import SyncResult, in_batches

MAX_BATCH = 200
API_VERSION = "v62.0"


@dataclass
class Salesforce:
    http: CrmHttp
    secret: Callable[[bool], SalesforceSecret]
    sobject: str = "Lead"
    api_version: str = API_VERSION
    _token: str | None = field(default=None, repr=False)

    def _access_token(self, secret: SalesforceSecret, *, renew: bool) -> str:
        if secret.access_token and not (secret.client_id and secret.client_secret):
            return secret.access_token
        if self._token is not None and not renew:
            return self._token
        response = self.http.form(
            secret.instance_url.rstrip("/") + "/services/oauth2/token",
            {
                "grant_type": "client_credentials",
                "client_id": secret.client_id or "",
                "client_secret": secret.client_secret or "",
            },
        )
        if response is None or response.status >= 500:
            raise CrmUnavailable("salesforce token endpoint unavailable")
        token = response.body.get("access_token") if isinstance(response.body, dict) else None
        if response.status != 200 or not isinstance(token, str):
            raise CrmAuthError(f"salesforce token HTTP {response.status} {error_code(response.body)}".strip())
        self._token = token
        return token

    def _send(self, body: object) -> Response:
        path = f"/services/data/{self.api_version}/composite/sobjects/{self.sobject}/{SALESFORCE_EXTERNAL_ID}"
        for attempt in range(2):
            secret = self.secret(attempt > 0)
            token = self._access_token(secret, renew=attempt > 0)
            response = self.http.send("PATCH", secret.instance_url.rstrip("/") + path, token, body)
            if response.status != 401:
                break
        if response.status == 401:
            raise CrmAuthError(f"salesforce HTTP 401 {error_code(response.body)}".strip())
        if response.status == 403 and error_code(response.body) == "REQUEST_LIMIT_EXCEEDED":
            raise CrmUnavailable("salesforce 403 REQUEST_LIMIT_EXCEEDED")
        if response.status == 403:
            raise CrmAuthError(f"salesforce HTTP 403 {error_code(response.body)}".strip())
        if response.status == 400:
            raise CrmConfigError(f"salesforce 400 {error_code(response.body)}".strip())
        if response.status != 200 or not isinstance(response.body, list):
            raise CrmUnavailable(f"salesforce HTTP {response.status}")
        return response

    def upsert(self, records: Sequence[CrmRecord]) -> SyncResult:
        return in_batches(records, MAX_BATCH, self._batch)

    def _batch(self, records: list[CrmRecord], *, creating: bool = False) -> SyncResult:
        body = {
            "allOrNone": False,
            "records": [salesforce_record(r, self.sobject, creating=creating) for r in records],
        }
        results = self._send(body).body
        out = SyncResult()
        missing: list[CrmRecord] = []
        for record, answer in zip(records, results, strict=False):
            if isinstance(answer, dict) and answer.get("success"):
                out.synced.append(record.lead_id)
                continue
            codes = [
                str(e.get("statusCode", "")) for e in (answer or {}).get("errors", []) if isinstance(e, dict)
            ]
            if not creating and "REQUIRED_FIELD_MISSING" in codes:
                missing.append(record)
            else:
                out.failed[record.lead_id] = (f"salesforce {','.join(codes) or 'error'}"[:80], False)
        for record in records[len(results) :]:
            out.failed[record.lead_id] = ("salesforce: no result for the record", True)
        if missing:
            out.merge(self._batch(missing, creating=True))
        return out
