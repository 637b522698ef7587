"""Consent and deliverability as state: unsubscribed (globally or per list), complained, undeliverable.

Pure: no AWS. Each email event is classified (:func:`changes`) into per-field changes, and each field is
kept as ``[event time, value]``, the last writer by *event* time winning (:func:`apply`), so the order in
which a provider's webhooks arrive does not matter: applying the same events in any order gives the same
state. At the same second, the flag that stops email wins (a tie never re-opens an address).

Fields (keys of ``LeadState.consent``):

- ``unsubscribed``: the address opted out of everything (a global unsubscribe);
- ``unsubscribed:<list>``: it opted out of one list or group (SendGrid ASM group, Mailchimp audience,
  or any event's ``properties.list``); a resubscribe to that list clears it;
- ``complained``: a spam report (a feedback-loop complaint);
- ``undeliverable``: a hard bounce, or a message dropped because the address bounced before. A soft,
  blocked, reputation or content bounce is not: the address exists, the message did not get through.
  A later successful delivery clears it.

How each provider's documented bounce vocabulary maps (the providers map soft and transient bounces to
``email_deferred`` already; what is left here is what their ``email_bounce``/``email_dropped`` carry):

- SendGrid: ``bounce`` with ``type: blocked``, or a ``bounce_classification`` other than
  "Invalid Address" / "Mailbox Unavailable" (Technical Failure, Content, Reputation, Frequency or Volume
  Too High, Unclassified), is not undeliverable; ``dropped`` with reason "Bounced Address" is;
- Mailgun: ``failed`` with severity ``permanent`` is, unless its reason is ``suppress-unsubscribe`` or
  ``suppress-complaint`` (dropped for another suppression);
- Mailchimp: ``cleaned`` with reason ``abuse`` is a complaint, not a bounce;
- Postmark: a Bounce ``Type`` other than HardBounce / BadEmailAddress / ManuallyDeactivated (spam or
  virus notifications, DMARC, content related, unknown...) is not undeliverable, while the types
  Unsubscribe and SpamComplaint are an opt-out and a complaint; a SubscriptionChange
  names why the address was suppressed (HardBounce, SpamComplaint, ManualSuppression);
- SES: a ``Permanent`` bounce is (subtypes General, NoEmail, Suppressed, OnAccountSuppressionList);
- Brevo ``hard_bounce``/``invalid_email`` and Mandrill ``hard_bounce`` are; their ``blocked`` and
  ``reject`` (``email_dropped``) are not.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field

from leadscore.models.event import CanonicalEvent
from leadscore.rules.model import CONSENT_RULE_FIELDS

UNSUBSCRIBED = "unsubscribed"
COMPLAINED = "complained"
UNDELIVERABLE = "undeliverable"
LIST_PREFIX = UNSUBSCRIBED + ":"
MAX_LISTS = 20  # per-list entries kept in the lead item; beyond, the oldest are forgotten
MAX_LIST_NAME = 64

# Fields a rule condition may read (fit rules): booleans, as of now.
RULE_FIELDS = CONSENT_RULE_FIELDS  # the condition paths rules may use (defined with the rules document)

Entry = tuple[int, bool]  # (event time, epoch seconds; the field's value)

_SENDGRID_HARD = frozenset({"invalid address", "mailbox unavailable"})
_POSTMARK_HARD = frozenset({"hardbounce", "bademailaddress", "manuallydeactivated"})
_MAILGUN_OTHER_SUPPRESSION = frozenset({"suppress-unsubscribe", "suppress-complaint"})


def _text(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _list_of(event: CanonicalEvent) -> str | None:
    """The list or group an (un)subscribe is about, or None for a global one."""
    props = event.properties
    for key, prefix in (("list", ""), ("asm_group_id", "sendgrid-group:"), ("list_id", "mailchimp-list:")):
        if key == "asm_group_id" and event.name not in ("group_unsubscribe", "group_resubscribe"):
            continue  # SendGrid's plain "unsubscribe" is global even when the message named a group
        value = props.get(key)
        if value is not None and not isinstance(value, bool) and str(value).strip():
            return (prefix + str(value).strip())[:MAX_LIST_NAME]
    return None


def hard_bounce(event: CanonicalEvent) -> bool:
    """Whether an ``email_bounce`` means the address cannot receive mail (see the module docstring)."""
    props = event.properties
    source = event.source
    if source == "sendgrid":
        if _text(props.get("bounce_type")) == "blocked":
            return False
        classification = _text(props.get("bounce_classification"))
        return not classification or classification in _SENDGRID_HARD
    if source == "mailgun":
        return _text(props.get("reason")) not in _MAILGUN_OTHER_SUPPRESSION
    if source == "postmark":
        kind = _text(props.get("bounce_type"))
        return not kind or kind in _POSTMARK_HARD
    if source == "mailchimp":
        return _text(props.get("reason")) != "abuse"
    return True


def _dropped_for_bounce(event: CanonicalEvent) -> bool:
    props = event.properties
    reason = _text(props.get("reason"))
    return reason in ("bounced address", "hard-bounce", "suppress-bounce") or (
        _text(props.get("reject_reason")) == "hard-bounce"
    )


def changes(event: CanonicalEvent) -> list[tuple[str, bool]]:
    """The consent fields an event sets (True) or clears (False)."""
    kind = event.type
    if kind == "email_unsubscribe":
        reason = _text(event.properties.get("suppression_reason"))  # Postmark SubscriptionChange
        if reason == "hardbounce":
            return [(UNDELIVERABLE, True)]
        if reason == "spamcomplaint":
            return [(COMPLAINED, True)]
        listed = _list_of(event)
        return [(LIST_PREFIX + listed if listed else UNSUBSCRIBED, True)]
    if kind == "email_resubscribe":
        listed = _list_of(event)
        return [(LIST_PREFIX + listed if listed else UNSUBSCRIBED, False)]
    if kind == "email_spam_report":
        return [(COMPLAINED, True)]
    if kind == "email_bounce":
        if event.source == "mailchimp" and _text(event.properties.get("reason")) == "abuse":
            return [(COMPLAINED, True)]
        if event.source == "postmark":  # Postmark's BounceType also names opt-outs and complaints
            named = _text(event.properties.get("bounce_type"))
            if named == "unsubscribe":
                return [(UNSUBSCRIBED, True)]
            if named == "spamcomplaint":
                return [(COMPLAINED, True)]
        return [(UNDELIVERABLE, True)] if hard_bounce(event) else []
    if kind == "email_dropped":
        return [(UNDELIVERABLE, True)] if _dropped_for_bounce(event) else []
    if kind == "email_delivered":
        return [(UNDELIVERABLE, False)]
    if kind == "form_submit" and event.source == "mailchimp" and _list_of(event):
        return [(LIST_PREFIX + (_list_of(event) or ""), False)]  # a (re)subscribe to that audience
    return []


def _wins(new: Entry, old: Entry | None) -> bool:
    """Last writer by event time; at the same second, True (stop emailing) beats False."""
    return old is None or (new[0], new[1]) > (old[0], old[1])


def apply(consent: MutableMapping[str, Entry], event: CanonicalEvent, at: int) -> bool:
    """Apply ``event`` (at epoch ``at``) to ``consent`` in place; whether anything changed."""
    changed = False
    for key, value in changes(event):
        entry = (at, value)
        old = consent.get(key)
        if old is not None:
            old = (int(old[0]), bool(old[1]))
        if _wins(entry, old):
            consent[key] = entry
            changed = True
    if changed:
        _bound(consent)
    return changed


def merge(a: Mapping[str, Entry], b: Mapping[str, Entry]) -> dict[str, Entry]:
    """Both states' fields, each the later of the two (commutative: order-free, like :func:`apply`)."""
    out: dict[str, Entry] = {k: (int(v[0]), bool(v[1])) for k, v in a.items()}
    for key, value in b.items():
        entry = (int(value[0]), bool(value[1]))
        if _wins(entry, out.get(key)):
            out[key] = entry
    _bound(out)
    return out


def _bound(consent: MutableMapping[str, Entry]) -> None:
    lists = [k for k in consent if k.startswith(LIST_PREFIX)]
    if len(lists) > MAX_LISTS:
        # Forget the oldest resubscribes first (they change nothing), then the oldest opt-outs.
        lists.sort(key=lambda k: (consent[k][1], consent[k][0], k))
        for key in lists[: len(lists) - MAX_LISTS]:
            del consent[key]


@dataclass(frozen=True)
class ConsentView:
    """What the card, the API, the alert and rules show, as of the newest event applied."""

    unsubscribed_at: int | None = None
    complained_at: int | None = None
    undeliverable_at: int | None = None
    lists: dict[str, int] = field(default_factory=dict)  # list -> unsubscribed at

    @property
    def unsubscribed(self) -> bool:
        return self.unsubscribed_at is not None

    @property
    def complained(self) -> bool:
        return self.complained_at is not None

    @property
    def undeliverable(self) -> bool:
        return self.undeliverable_at is not None

    @property
    def do_not_email(self) -> bool:
        return self.unsubscribed or self.complained or self.undeliverable

    def reasons(self) -> list[tuple[str, int]]:
        """Why not to email, most serious first: ``[("unsubscribed", at), ...]``."""
        out = []
        for name, at in (
            (UNDELIVERABLE, self.undeliverable_at),
            (COMPLAINED, self.complained_at),
            (UNSUBSCRIBED, self.unsubscribed_at),
        ):
            if at is not None:
                out.append((name, at))
        return out

    def facts(self) -> dict[str, object]:
        """The ``consent.*`` fields rule conditions read."""
        return {
            "consent.unsubscribed": self.unsubscribed,
            "consent.complained": self.complained,
            "consent.undeliverable": self.undeliverable,
            "consent.do_not_email": self.do_not_email,
            "consent.unsubscribed_any_list": bool(self.lists),
        }


NO_CONSENT = ConsentView()


def view(consent: Mapping[str, Entry] | None) -> ConsentView:
    """The state of ``LeadState.consent`` as flags with the time each was set."""
    if not consent:
        return NO_CONSENT
    flags: dict[str, int | None] = {UNSUBSCRIBED: None, COMPLAINED: None, UNDELIVERABLE: None}
    lists: dict[str, int] = {}
    for key, raw in consent.items():
        at, value = raw
        if not value:
            continue
        when = int(at)
        if key.startswith(LIST_PREFIX):
            lists[key[len(LIST_PREFIX) :]] = when
        elif key in flags:
            flags[key] = when
    return ConsentView(
        flags[UNSUBSCRIBED], flags[COMPLAINED], flags[UNDELIVERABLE], dict(sorted(lists.items()))
    )


def _day(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def do_not_email(state_view: ConsentView) -> str | None:
    """The alert's and card's line, e.g. "Do not email: unsubscribed 2026-11-18", or None."""
    reasons = [f"{name} {_day(at)}" for name, at in state_view.reasons()]
    return "Do not email: " + ", ".join(reasons) if reasons else None
