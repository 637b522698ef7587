"""Owner routing: which rep owns a lead, decided from the rules' ``routing`` section.

Pure code (docs/architecture.md, "Owner routing"). A lead is routed when it first scores above cold
(warm, sales-ready or any tier of its model; never while disqualified): the first route whose
``when`` matches its region, segment, interest and profile gives a queue, else the ``default``
queue. Inside a ``round_robin`` queue the owner is picked by rendezvous hashing of the lead id: the
same lead always gets the same member (rescored, rebuilt or scored by any container), members share
leads evenly, and adding a member moves only the leads it wins (1/(n+1) of them). No counter is
read or written, so routing adds no request and no write to the one write the event makes.

The assignment is stored on the lead (``owner``, ``owner_queue``, ``route``, ``routed_at``) and kept:
a rules change re-routes a lead only if its queue is gone or no longer lists its owner. An owner
the lead's own profile gives (a form's ``owner`` field, or the CRM's) wins over every route.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from leadscore.rules.compiler import CompiledRules
from leadscore.rules.model import Queue
from leadscore.rules.routing import CompiledRouting
from leadscore.scoring.state import LeadState, ScoreCard, clip

PROFILE_ROUTE = "profile.owner"  # the route of an owner the profile gives (no route id has a dot)
UNROUTED_TIERS = frozenset({"cold", "disqualified"})
MAX_OWNER = 200


@dataclass(frozen=True, slots=True)
class Assignment:
    owner: str
    queue: str | None
    route_id: str
    reason: str


def pick(lead_id: str, queue: Queue) -> str:
    """The queue member that owns ``lead_id``: the first for ``single``; for ``round_robin`` the
    member with the highest hash of (lead id, member): rendezvous hashing."""
    if queue.strategy == "single" or len(queue.members) == 1:
        return queue.members[0]
    return max(queue.members, key=lambda member: _weight(lead_id, member))


def _weight(lead_id: str, member: str) -> bytes:
    return hashlib.blake2b(f"{lead_id}\x00{member}".encode(), digest_size=8).digest()


def route(state: LeadState, card: ScoreCard, rules: CompiledRules) -> Assignment | None:
    """Where the lead goes now (whatever it is assigned already): the profile's owner, else the
    first matching route's (or the default's) queue and its member for this lead. None when the
    rules have no routing, or no route and no default match."""
    explicit = state.profile.get("owner")
    if isinstance(explicit, str) and explicit.strip():
        return Assignment(
            clip(explicit.strip(), MAX_OWNER) or "", None, PROFILE_ROUTE, "owner given by the lead's profile"
        )
    routing = rules.routing
    if routing is None:
        return None
    from leadscore.scoring.engine import profile_facts  # the engine imports this module

    facts = profile_facts(state)
    matched = routing.match(routing.where(facts, card.categories), facts)
    if matched is None:
        return None
    route_id, queue_name, reason = matched
    queue = routing.queues[queue_name]
    return Assignment(pick(state.lead_id, queue), queue_name, route_id, reason)


def _holds(routing: CompiledRouting | None, state: LeadState) -> bool:
    """Whether the stored assignment stands: its queue still exists and still lists its owner."""
    if state.owner is None or state.owner_queue is None:
        return False
    if routing is None:
        return True  # routing was removed from the rules: assignments stay as they are
    members = routing.members.get(state.owner_queue)
    return members is not None and state.owner in members


def assign(state: LeadState, card: ScoreCard, rules: CompiledRules, now_s: int) -> bool:
    """Route ``state`` (in place) if it needs it; whether its assignment changed.

    A profile owner always applies. Otherwise a lead is routed once it is above cold and not yet
    (validly) assigned; a cold or disqualified lead keeps whatever it has."""
    explicit = state.profile.get("owner")
    if not (isinstance(explicit, str) and explicit.strip()):
        if state.route == PROFILE_ROUTE or _holds(rules.routing, state):
            return False
        if rules.routing is None or card.tier in UNROUTED_TIERS or card.disqualified:
            return False
    assignment = route(state, card, rules)
    if assignment is None or (assignment.owner, assignment.queue, assignment.route_id) == (
        state.owner,
        state.owner_queue,
        state.route,
    ):
        return False
    state.owner, state.owner_queue = assignment.owner, assignment.queue
    state.route, state.routed_at = assignment.route_id, now_s
    return True


def kept(state: LeadState) -> dict[str, object]:
    """The assignment fields, for a state rebuilt from history (an assignment is not in the events)."""
    return {
        "owner": state.owner,
        "owner_queue": state.owner_queue,
        "route": state.route,
        "routed_at": state.routed_at,
    }
