"""The CRM write-back under test: both fakes running, their secrets in (moto's) Secrets Manager, and
the stack created with both syncs on. ``crm_stack`` is the whole set-up for one test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_salesforce import FakeSalesforce
from tools.localstack import Stack

HUBSPOT_TOKEN = "pat-na1-test-token"


@dataclass
class CrmSetup:
    stack: Stack
    hubspot: FakeHubSpot
    salesforce: FakeSalesforce
    hubspot_secret: str
    salesforce_secret: str

    def set_hubspot_token(self, token: str) -> None:
        body = json.dumps({"token": token, "base_url": self.hubspot.url})
        self.stack.client("secretsmanager").put_secret_value(SecretId=self.hubspot_secret, SecretString=body)


def create_secrets(stack_client: Any, hubspot: FakeHubSpot, salesforce: FakeSalesforce) -> tuple[str, str]:
    hub = stack_client.create_secret(
        Name="leadscore/hubspot", SecretString=json.dumps({"token": HUBSPOT_TOKEN, "base_url": hubspot.url})
    )["ARN"]
    sf = {"instance_url": salesforce.url, "client_id": "cid", "client_secret": "csecret"}
    sales = stack_client.create_secret(Name="leadscore/salesforce", SecretString=json.dumps(sf))["ARN"]
    return hub, sales


@contextmanager
def crm_stack(template: Any, *, parameters: dict[str, Any] | None = None, **fakes: Any) -> Iterator[CrmSetup]:
    """Both fakes (HubSpot with the leadscore properties, Salesforce with the fields) and the stack."""
    import boto3

    with ExitStack() as stack_of:
        hubspot = stack_of.enter_context(FakeHubSpot(token=HUBSPOT_TOKEN, **fakes.get("hubspot", {})))
        salesforce = stack_of.enter_context(FakeSalesforce(**fakes.get("salesforce", {})))
        salesforce.define_leadscore_fields()
        from leadscore.crm.mapping import HUBSPOT_PROPERTIES

        hubspot.properties |= set(HUBSPOT_PROPERTIES)
        hub, sales = create_secrets(
            boto3.client("secretsmanager", region_name="us-east-1"), hubspot, salesforce
        )
        params = {"HubSpotTokenSecretArn": hub, "SalesforceSecretArn": sales, **(parameters or {})}
        stack = Stack.create(template, parameters=params)
        yield CrmSetup(stack, hubspot, salesforce, hub, sales)
