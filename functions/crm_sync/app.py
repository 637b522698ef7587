"""CrmSyncFunction: lead changes -> HubSpot contacts and Salesforce Leads/Contacts.

Two triggers, one handler: the DynamoDB stream of LeadsTable (filtered to lead items with a ``crm``
fingerprint: known, scored, live leads), and CrmSyncRetryQueue (``{lead_id, crm}`` re-drives, which
re-read the lead's current item). :mod:`leadscore.services.crm_sync` batches per CRM and parks what
a CRM cannot take; only a lead that cannot be parked is reported as a failed record.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from leadscore.observability import logger, metrics
from leadscore.services import crm_sync, wiring


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    ports = crm_sync.ports_for(wiring.time_left(context))
    if records and records[0].get("eventSource") == "aws:sqs":
        report, failed = crm_sync.redrive([(r["messageId"], r["body"]) for r in records], ports)
        source = "retry"
    else:
        report, failed = crm_sync.sync_stream(records, ports)
        source = "stream"
    crm_sync.report_invocation(report, source)
    return {"batchItemFailures": [{"itemIdentifier": item} for item in failed]}
