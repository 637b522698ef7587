"""CRM write-back: lead changes from the stream (and re-drives from the retry queue) to HubSpot and
Salesforce, with the newest version of each lead only, and nothing a rep would not see.

Stream path (:func:`sync_stream`): each record's new image is a lead item whose ``crm`` attribute (the
fingerprint of the synced values, :func:`leadscore.crm.mapping.fingerprint`) the event source
mapping filters on. Per batch: the newest version per lead; then, per CRM, a lead is skipped when this
container already synced that version or a newer one, or the same fingerprint (the notifier's outbox
claims and marks rewrite the item without changing it for a rep). The rest go in the CRM's batches.

A lead the CRM could not take is *parked*, never retried from its stream image:
- transient (429s or 5xx past the time left, a daily limit): ``{lead_id, crm}`` on the retry queue,
  whose messages come back to this function, which re-reads the lead's *current* item;
- permanent (401/403, a missing property or field, a contact the CRM refuses): straight to the DLQ
  with the reason, to re-drive (same message shape) once the CRM's setup is fixed.
Only a lead that cannot be parked fails its stream record (Lambda then retries from it).

Never stale: the stream is ordered per item and a shard's batches run one at a time; a re-drive reads
the current item, writes it, then reads the item again and writes again if a newer version appeared
meanwhile (at most :data:`VERIFY_ROUNDS` times), so the last completed write carries the newest
version whatever the stream path did in between.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ValidationError

from leadscore.crm.limits import RollingWindow
from leadscore.crm.mapping import CrmRecord, newest, record_of
from leadscore.dal.crm_http import CrmError, CrmHttp
from leadscore.dal.hubspot import HubSpot, SyncResult
from leadscore.dal.keys import LEAD_SK
from leadscore.observability import count, logger

Crm = Literal["hubspot", "salesforce"]
VERIFY_ROUNDS = 3
CACHE_SIZE = 50_000
WINDOW_SECONDS = 10.0


class Parked(BaseModel):
    """A retry-queue / DLQ message: which lead to sync again, where, and why it was parked."""

    lead_id: str
    crm: Crm
    reason: str = ""
    ver: int = 0  # the version that failed (for people; a re-drive reads the current item)


class Upserter(Protocol):
    """What the service needs from a CRM client (HubSpot, Salesforce or a test double)."""

    def upsert(self, records: Sequence[CrmRecord]) -> SyncResult: ...


@dataclass
class Ports:
    """The adapters one invocation uses."""

    crms: Mapping[Crm, Upserter]
    park_retry: Callable[[list[Parked]], list[Parked]]  # returns the messages it could not send
    park_dead: Callable[[list[Parked]], list[Parked]]
    current: Callable[[str], Any]  # lead id -> the lead's current LeadState (or None)


@dataclass
class Report:
    leads: int = 0
    skipped: int = 0
    synced: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    dead: int = 0
    unparked: set[str] = field(default_factory=set)  # lead ids that could not be parked

    def summary(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "skipped": self.skipped,
            "synced": self.synced,
            "parked_retry": self.retried,
            "parked_dead": self.dead,
            "unparked": len(self.unparked),
        }


# (crm, lead id) -> (version, fingerprint) this container last wrote. Bounded LRU.
_synced: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()


def reset_cache() -> None:
    _synced.clear()


def _remember(crm: str, record: CrmRecord) -> None:
    key = (crm, record.lead_id)
    _synced[key] = (record.ver, record.fingerprint)
    _synced.move_to_end(key)
    while len(_synced) > CACHE_SIZE:
        _synced.popitem(last=False)


def _needed(crm: str, record: CrmRecord) -> bool:
    seen = _synced.get((crm, record.lead_id))
    if seen is None:
        return True
    ver, fingerprint = seen
    return record.ver > ver and record.fingerprint != fingerprint


def records_of_stream(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, CrmRecord]]:
    """(sequence number, record) per stream record that holds a synced lead (others are skipped)."""
    from leadscore.dal.items import from_item

    out = []
    for raw in records:
        change = raw.get("dynamodb") or {}
        image = change.get("NewImage")
        if not image or (change.get("Keys") or {}).get("sk", {}).get("S") != LEAD_SK or "st" not in image:
            continue
        record = record_of(from_item(image))
        if record is not None:
            out.append((str(change.get("SequenceNumber", "")), record))
    return out


def sync_records(records: list[CrmRecord], ports: Ports, report: Report) -> dict[str, set[str]]:
    """Sync the newest of ``records`` to every configured CRM; park what fails. Returns, per CRM, the
    lead ids written."""
    wanted = newest(records)
    report.leads += len(wanted)
    written: dict[str, set[str]] = {}
    for crm, client in ports.crms.items():
        todo = [r for r in wanted if _needed(crm, r)]
        report.skipped += len(wanted) - len(todo)
        if not todo:
            continue
        try:
            result = client.upsert(todo)
        except CrmError as exc:
            result = SyncResult(failed={r.lead_id: (exc.reason, exc.retryable) for r in todo})
        by_id = {r.lead_id: r for r in todo}
        for lead_id in result.synced:
            _remember(crm, by_id[lead_id])
        written[crm] = set(result.synced)
        report.synced[crm] = report.synced.get(crm, 0) + len(result.synced)
        _park(crm, result, by_id, ports, report)
    return written


def _park(crm: Crm, result: SyncResult, by_id: dict[str, CrmRecord], ports: Ports, report: Report) -> None:
    retry: list[Parked] = []
    dead: list[Parked] = []
    for lead_id, (reason, retryable) in result.failed.items():
        message = Parked(lead_id=lead_id, crm=crm, reason=reason, ver=by_id[lead_id].ver)
        (retry if retryable else dead).append(message)
    if not retry and not dead:
        return
    unsent = (ports.park_retry(retry) if retry else []) + (ports.park_dead(dead) if dead else [])
    report.retried += len(retry)
    report.dead += len(dead)
    report.unparked.update(m.lead_id for m in unsent)
    reasons = sorted({m.reason for m in retry + dead})
    count("CrmSyncParked", len(retry) + len(dead), crm=crm)
    logger.warning(
        "crm sync parked leads",
        extra={"crm": crm, "retry": len(retry), "dead": len(dead), "reasons": reasons[:5]},
    )


def sync_stream(records: Sequence[Mapping[str, Any]], ports: Ports) -> tuple[Report, list[str]]:
    """The stream path. Returns the report and the sequence numbers to report as failed (the first
    record of each lead that could not be parked: Lambda retries the shard from the earliest)."""
    report = Report()
    found = records_of_stream(records)
    sync_records([r for _, r in found], ports, report)
    failed = [seq for seq, r in found if r.lead_id in report.unparked]
    return report, failed


def redrive(messages: Sequence[tuple[str, str]], ports: Ports) -> tuple[Report, list[str]]:
    """The retry-queue path: ``(message id, body)`` pairs. Each lead's current item is read and synced,
    then read again (a newer version written meanwhile is synced too). Returns the ids that failed."""
    report = Report()
    failed: list[str] = []
    for message_id, body in messages:
        try:
            parked = Parked.model_validate_json(body)
        except ValidationError:
            logger.error("crm retry message is not {lead_id, crm}", extra={"message_id": message_id})
            failed.append(message_id)
            continue
        client = ports.crms.get(parked.crm)
        if client is None:
            continue  # that CRM's sync was turned off: nothing to do
        # A passing failure fails the message (SQS redelivers it, then moves it to the DLQ after
        # maxReceiveCount); a permanent one goes to the DLQ at once.
        one = Ports(
            {parked.crm: client}, park_retry=lambda m: m, park_dead=ports.park_dead, current=ports.current
        )
        if not _redrive_one(parked, one, report):
            failed.append(message_id)
    return report, failed


def _redrive_one(parked: Parked, one: Ports, report: Report) -> bool:
    last_ver = -1
    for _ in range(VERIFY_ROUNDS):
        state = one.current(parked.lead_id)
        record = record_of(state) if state is not None else None
        if record is None:
            return True  # erased, merged or unscored since: nothing to write
        if record.ver == last_ver:
            return True  # nothing newer since our write: the CRM holds the current version
        _synced.pop((parked.crm, parked.lead_id), None)  # a re-drive always writes
        written = sync_records([record], one, report)
        if parked.lead_id not in written.get(parked.crm, set()):
            return parked.lead_id not in report.unparked  # sent to the DLQ: done here
        last_ver = record.ver
    return True


def parked_body(message: Parked) -> str:
    return json.dumps(message.model_dump(), separators=(",", ":"))


def bucket(per_10s: int) -> RollingWindow:
    return RollingWindow(capacity=float(per_10s), window=WINDOW_SECONDS)


def hubspot_client(arn: str, http: CrmHttp) -> HubSpot:
    from leadscore.dal.crm_secrets import hubspot_secret

    return HubSpot(http=http, secret=lambda fresh: hubspot_secret(arn, fresh=fresh))


# ----------------------------------------------------------------------------------------- wiring
_clients: dict[str, Any] = {}  # per container: buckets and Salesforce's access token outlive a batch


def _client(crm: Crm, time_left: Callable[[], float]) -> Upserter:
    from leadscore.settings import get_settings

    settings = get_settings()
    client = _clients.get(crm)
    if client is None:
        http = CrmHttp(bucket=bucket(settings.crm_requests_per_10s))
        if crm == "hubspot":
            client = hubspot_client(settings.hubspot_token_secret_arn, http)
        else:
            from leadscore.dal.crm_secrets import salesforce_secret
            from leadscore.dal.salesforce import Salesforce

            arn = settings.salesforce_secret_arn
            client = Salesforce(
                http=http,
                secret=lambda fresh: salesforce_secret(arn, fresh=fresh),
                sobject=settings.salesforce_object,
            )
        _clients[crm] = client
    client.http.time_left = time_left
    upserter: Upserter = client
    return upserter


def reset_clients() -> None:
    _clients.clear()


def ports_for(time_left: Callable[[], float] | None) -> Ports:
    """This deployment's CRMs (each on when its secret ARN is set), queues and lead table."""
    from leadscore.dal import crm_queue
    from leadscore.dal.leads import repository
    from leadscore.settings import get_settings, require

    settings = get_settings()
    left = time_left or (lambda: 60.0)
    crms: dict[Crm, Upserter] = {}
    if settings.hubspot_token_secret_arn:
        crms["hubspot"] = _client("hubspot", left)
    if settings.salesforce_secret_arn:
        crms["salesforce"] = _client("salesforce", left)

    def sender(url_name: str, url: str, delay: int) -> Callable[[list[Parked]], list[Parked]]:
        def send(messages: list[Parked]) -> list[Parked]:
            by_key = {f"{m.crm}/{m.lead_id}": m for m in messages}
            unsent = crm_queue.send(
                require(url, url_name), [(k, parked_body(m)) for k, m in by_key.items()], delay
            )
            return [by_key[k] for k in unsent]

        return send

    table = settings.leads_table
    return Ports(
        crms=crms,
        park_retry=sender("CRM_RETRY_QUEUE_URL", settings.crm_retry_queue_url, RETRY_DELAY_SECONDS),
        park_dead=sender("CRM_DLQ_URL", settings.crm_dlq_url, 0),
        current=lambda lead_id: repository(require(table, "LEADS_TABLE")).get(lead_id),
    )


RETRY_DELAY_SECONDS = 60


def report_invocation(report: Report, source: str) -> None:
    for crm, n in report.synced.items():
        if n:
            count("CrmSynced", n, crm=crm)
    if report.skipped:
        count("CrmSyncSkipped", report.skipped)
    logger.info("crm sync done", extra={"source": source, **report.summary()})
