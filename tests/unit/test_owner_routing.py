"""Owner routing (issue 17.5): the rules' ``routing`` section gives every lead an owner.

- every sample lead gets an owner from rules/example.yaml (`rules test` prints it), and the leads
  above cold have it stored;
- round-robin is rendezvous hashing: even over many ids, stable for a lead, and adding a member moves
  only the leads the new member wins;
- the assignment is kept (rescore, rebuild, a rules change) unless its queue drops the owner; a
  profile's owner wins;
- validate names a missing default with the unrouted combinations, unknown queues, regions,
  segments and countries with "did you mean";
- the owner is in the alert's text and JSON and the API's card and hot row; SNS attributes stay ten,
  without the owner (a person: PII); items written before routing read as unassigned.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from leadscore.alerts import attributes, render_json, render_text
from leadscore.api.views import hot_row, score_card
from leadscore.dal.items import from_item, to_item
from leadscore.errors import RulesValidationError
from leadscore.rules.compiler import CompiledRules, load_rules, parse_document
from leadscore.rules.lint import lint_document
from leadscore.rules.model import Queue
from leadscore.scoring import routing
from leadscore.scoring.engine import apply_events, rebuild, rescore
from leadscore.scoring.state import AlertEntry, LeadState, ScoreCard

from tests.support import ROOT
from tests.unit.rules_fixtures import NOW, doc, event
from tools.cli import main
from tools.rules_eval import read_leads, score_leads

EXAMPLE = ROOT / "rules" / "example.yaml"
LEADS = ROOT / "rules" / "sample-leads.jsonl"
EMEA_DESK = ["anna.keller@example.com", "tom.berg@example.com", "lea.moreau@example.com"]


def example() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return raw


def compiled(raw: dict[str, Any]) -> CompiledRules:
    return load_rules(json.dumps(raw))


def routed_doc(**routing_changes: Any) -> dict[str, Any]:
    """The unit rules with the example's routing section (warm at 60: a VP title and a demo)."""
    raw = doc()
    raw["routing"] = copy.deepcopy(example()["routing"]) | routing_changes
    return raw


def warm_events(country: str = "Germany", size: int = 5000) -> list[Any]:
    profile = {"job_title": "VP Sales", "country": country, "company_size": size}
    return [event("form_submit", name="Request a demo", profile=profile)]


# ------------------------------------------------------------------------------- sample leads
def test_routing_assigns_every_sample_lead() -> None:
    rules = compiled(example())
    rows = score_leads(read_leads(LEADS), rules, NOW, None)
    owners = {r["email"]: (r["owner"], r["queue"], r["route"], r["assigned"]) for r in rows}
    assert all(owner for owner, *_ in owners.values()), owners
    assert owners["dana.reyes@northwindlabs.io"][1:] == ("na-mid-market", "na-mid-market", True)
    assert owners["sam.okafor@brightledger.com"][1:] == ("inbound-sdr", "default", True)  # UK mid-market
    assert owners["jo.student@gmail.com"][1:3] == ("apac", "apac")  # India; cold: not stored yet
    assert owners["lee.chen@summitcare.health"][1:3] == ("na-enterprise", "na-enterprise")
    assert {r["email"] for r in rows if r["assigned"]} == {
        r["email"] for r in rows if r["tier"] in ("warm", "sales_ready")
    }


def test_rules_test_prints_each_sample_leads_owner(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(LEADS), "--now", "2026-11-23T12:00:00Z"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "owner (queue)" in out[1]
    dana = next(line for line in out if line.startswith("dana.reyes@"))
    assert (
        "sam.ortiz@example.com (na-mid-market)" in dana or "maria.garcia@example.com (na-mid-market)" in dana
    )
    assert out[-2].startswith("routing: 5 of 5 lead(s) have an owner, 2 assigned now")
    assert main(["rules", "test", str(EXAMPLE), "--leads", str(LEADS), "--now", "2026-11-23", "--json"]) == 0
    rows = {r["email"]: r for r in json.loads(capsys.readouterr().out)}
    assert (
        rows["dana.reyes@northwindlabs.io"]["route_reason"]
        == "route na-mid-market: region NA, segment mid-market"
    )


def test_rules_test_fails_when_a_lead_has_no_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = example()
    del raw["routing"]["default"]
    raw["routing"]["routes"].append({"id": "rest", "when": {"region": "unknown"}, "queue": "inbound-sdr"})
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(raw))
    assert main(["rules", "test", str(path), "--leads", str(LEADS), "--now", "2026-11-23T12:00:00Z"]) == 1
    out = capsys.readouterr().out
    assert "NO ROUTE" in out and "no route for sam.okafor@brightledger.com" in out  # UK mid-market


# ------------------------------------------------------------------------------- round-robin
def test_round_robin_spreads_evenly_and_is_stable() -> None:
    queue = Queue(members=EMEA_DESK)
    ids = [f"lead-{n:05d}" for n in range(30_000)]
    first = {i: routing.pick(i, queue) for i in ids}
    counts = Counter(first.values())
    assert set(counts) == set(EMEA_DESK)
    for member in EMEA_DESK:  # 10,000 each expected; binomial sd 82: 4% is over 4 sd
        assert 9_600 <= counts[member] <= 10_400, counts
    assert all(routing.pick(i, Queue(members=EMEA_DESK)) == owner for i, owner in first.items())
    # a fourth member takes about a quarter, only from the others' leads to itself
    grown = Queue(members=[*EMEA_DESK, "new.rep@example.com"])
    moved = {i for i in ids if routing.pick(i, grown) != first[i]}
    assert all(routing.pick(i, grown) == "new.rep@example.com" for i in moved)
    assert 0.23 <= len(moved) / len(ids) <= 0.27
    # the order members are listed in does not matter
    assert all(routing.pick(i, Queue(members=list(reversed(EMEA_DESK)))) == first[i] for i in ids[:2000])


def test_single_gives_every_lead_the_first_member() -> None:
    queue = Queue(members=["dave@example.com", "backup@example.com"], strategy="single")
    assert {routing.pick(f"l{n}", queue) for n in range(500)} == {"dave@example.com"}


# ------------------------------------------------------------------------------- when and how long
def test_a_warm_lead_is_routed_once_and_keeps_its_owner() -> None:
    rules = compiled(routed_doc())
    out = apply_events(LeadState(lead_id="lead-emea"), warm_events(), rules, NOW)
    state = out.state
    assert state.card is not None and state.card.tier == "warm"
    assert (state.owner_queue, state.route) == ("enterprise-desk", "emea-enterprise")
    assert state.owner in EMEA_DESK and state.routed_at is not None
    # more events, a rescore a day later and a rebuild keep it
    later = apply_events(state, [event("email_click")], rules, NOW + timedelta(hours=1)).state
    assert (later.owner, later.routed_at) == (state.owner, state.routed_at)
    rebuilt = rebuild(state, warm_events(), rules, NOW + timedelta(days=1))
    assert (rebuilt.owner, rebuilt.owner_queue, rebuilt.routed_at) == (
        state.owner,
        "enterprise-desk",
        state.routed_at,
    )


def test_a_cold_or_disqualified_lead_is_not_routed() -> None:
    rules = compiled(routed_doc())
    cold = apply_events(LeadState(lead_id="c"), [event("email_click")], rules, NOW).state
    assert cold.owner is None and cold.route is None
    rival = [event("form_submit", name="Request a demo", email="x@rival.com", profile={"job_title": "VP"})]
    out = apply_events(LeadState(lead_id="d"), rival, rules, NOW).state
    assert out.card is not None and out.card.disqualified and out.owner is None


def test_a_rules_change_reroutes_only_leads_whose_owner_left_the_queue() -> None:
    rules = compiled(routed_doc())
    states = [
        apply_events(LeadState(lead_id=f"lead-{n}"), warm_events(), rules, NOW).state for n in range(60)
    ]
    leaving = states[0].owner
    assert leaving is not None
    raw = routed_doc()
    raw["routing"]["queues"]["enterprise-desk"]["members"] = [m for m in EMEA_DESK if m != leaving] + [
        "new@example.com"
    ]
    changed = compiled(raw)
    later = NOW + timedelta(days=1)
    for state in states:
        new = rescore(state, changed, later, None)
        assert new is not None  # a new rules version rescores every lead
        if state.owner == leaving:
            assert (
                new.owner != leaving
                and new.owner_queue == "enterprise-desk"
                and new.routed_at == int(later.timestamp())
            )
        else:
            assert (new.owner, new.routed_at) == (state.owner, state.routed_at)  # not reshuffled


def test_routing_added_later_routes_warm_leads_at_their_rescore() -> None:
    plain = compiled(doc())
    state = apply_events(LeadState(lead_id="lead-x"), warm_events("US", 500), plain, NOW).state
    assert state.owner is None
    new = rescore(state, compiled(routed_doc()), NOW + timedelta(hours=1), None)
    assert new is not None and new.owner_queue == "na-mid-market"


def test_the_profiles_owner_wins_over_the_rules() -> None:
    rules = compiled(routed_doc())
    events = [
        event(
            "form_submit",
            name="Request a demo",
            profile={"job_title": "VP", "country": "DE", "company_size": 9000, "owner": "Kim Lee"},
        )
    ]
    state = apply_events(LeadState(lead_id="lead-o"), events, rules, NOW).state
    assert (state.owner, state.owner_queue, state.route) == ("Kim Lee", None, routing.PROFILE_ROUTE)


def test_interest_routes_by_category_points() -> None:
    raw = routed_doc()
    raw["routing"]["routes"][0]["when"] = {"interest": {"category": "buying", "min_points": 40}}
    state = apply_events(LeadState(lead_id="lead-i"), warm_events(), compiled(raw), NOW).state
    assert (state.owner_queue, state.route) == ("analytics-specialist", "analytics-interest")
    raw["routing"]["routes"][0]["when"] = {"interest": {"category": "buying"}}  # the top category
    state = apply_events(LeadState(lead_id="lead-i"), warm_events(), compiled(raw), NOW).state
    assert state.route == "analytics-interest"


# ------------------------------------------------------------------------------- validation
def _errors(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(RulesValidationError) as caught:
        parse_document(raw)
    return caught.value.errors


def test_validate_reports_a_missing_default_with_the_unrouted_combinations() -> None:
    raw = example()
    del raw["routing"]["default"]
    findings = [f for f in lint_document(raw) if f.level == "error"]
    assert len(findings) == 1 and findings[0].where == "routing"
    message = findings[0].message
    assert message.startswith("no default queue and 9 combination(s) match no route:")
    assert "region EMEA, segment mid-market, no interest" in message
    assert "unknown country, unknown size, no interest" in message
    assert "a country in no territory (e.g. AD), segment enterprise" in message
    assert "region NA, segment enterprise" not in message
    raw["routing"]["default"] = "inbound-sdr"
    assert not [f for f in lint_document(raw) if f.where == "routing"]


def test_validate_names_unknown_queues_regions_segments_and_countries() -> None:
    raw = example()
    routes = raw["routing"]["routes"]
    routes[1]["queue"] = "enterprse-desk"
    routes[2]["when"]["region"] = "EMAE"
    routes[3]["when"]["segment"] = "midmarket"
    raw["routing"]["territories"]["EMEA"].append("UK")
    raw["routing"]["territories"]["NA"].append("DE")
    raw["routing"]["default"] = "inbound"
    errors = _errors(raw)
    assert (
        "routing route 'emea-enterprise': unknown queue 'enterprse-desk'; did you mean 'enterprise-desk'?"
        in errors
    )
    assert "routing route 'na-enterprise': unknown region 'EMAE'; did you mean 'EMEA'?" in errors
    assert "routing route 'na-mid-market': unknown segment 'midmarket'; did you mean 'mid-market'?" in errors
    assert (
        "routing territory 'EMEA': 'UK' is not an ISO 3166-1 alpha-2 country code; "
        "did you mean 'GB' (United Kingdom)?" in errors
    )
    assert "routing territory 'NA': DE is in territory 'EMEA' too" in errors
    assert "routing default: unknown queue 'inbound'; did you mean 'inbound-sdr'?" in errors


def test_validate_refuses_empty_queues_and_yaml_norway() -> None:
    raw = example()
    raw["routing"]["queues"]["apac"]["members"] = []
    raw["routing"]["territories"]["EMEA"].append(False)  # what YAML makes of an unquoted NO
    errors = _errors(raw)
    assert any(
        e.startswith("routing queues apac members: List should have at least 1 item") for e in errors
    ), errors
    assert any("YAML reads NO (Norway) as false" in e for e in errors), errors


def test_a_route_profile_condition_is_checked_like_a_fit_rule() -> None:
    raw = example()
    raw["routing"]["routes"][0]["when"] = {"profile": {"field": "industri", "equals": "software"}}
    assert any(
        e.startswith(
            "routing route 'analytics-interest' profile field 'industri': unknown field; "
            "did you mean 'industry'?"
        )
        for e in _errors(raw)
    )


# ------------------------------------------------------------------------------- where it shows
def _routed_alert() -> tuple[LeadState, AlertEntry]:
    state = LeadState(
        lead_id="lead-a",
        email="kim@acme.com",
        profile={"first_name": "Kim", "company": "Acme", "country": "DE"},
        owner="tom.berg@example.com",
        owner_queue="enterprise-desk",
        route="emea-enterprise",
        routed_at=1795446000,
    )
    card = ScoreCard(
        score=120, fit=50, activity=70, tier="sales_ready", grade="A4", rules_version="s3:v7", computed_at=1
    )
    return state, AlertEntry(id="sales_ready-9", kind="sales_ready", created_at=1795446000, card=card)


def test_the_owner_is_in_the_alert_text_and_json_but_not_an_sns_attribute() -> None:
    state, alert = _routed_alert()
    assert "Owner:    tom.berg@example.com (queue enterprise-desk)" in render_text(state, alert).splitlines()
    lead = render_json(state, alert)["lead"]
    assert (lead["owner"], lead["owner_queue"]) == ("tom.berg@example.com", "enterprise-desk")
    attrs = attributes(state, alert)
    # SNS keeps ten attributes (all used) and the owner is a person: it stays in the Message only
    assert len(attrs) == 10 and not any(
        "owner" in k or "tom.berg" in v["StringValue"] for k, v in attrs.items()
    )
    # a form's owner field wins over routing
    state.profile["owner"] = "Sam Ortiz"
    assert "Owner:    Sam Ortiz" in render_text(state, alert).splitlines()
    assert render_json(state, alert)["lead"]["owner"] == "Sam Ortiz"


def test_the_card_and_the_hot_row_show_the_owner() -> None:
    state, alert = _routed_alert()
    state.card = alert.card
    card = score_card(state, [])
    assert (card["owner"], card["owner_queue"], card["route"], card["routed_at"]) == (
        "tom.berg@example.com",
        "enterprise-desk",
        "emea-enterprise",
        "2026-11-23T15:00:00Z",
    )
    assert hot_row(state)["owner"] == "tom.berg@example.com"


def test_items_written_before_routing_read_as_unassigned_and_cost_nothing_more() -> None:
    state = LeadState(lead_id="lead-old", email="old@acme.com", ver=3)
    item = to_item(state)
    old = from_item(item)
    assert (old.owner, old.owner_queue, old.route, old.routed_at) == (None, None, None, None)
    body = state.model_dump_json(exclude_defaults=True)
    assert "owner" not in body and "route" not in body  # an unassigned lead stores no routing bytes
    routed = from_item(to_item(_routed_alert()[0]))
    assert (routed.owner, routed.owner_queue, routed.route) == (
        "tom.berg@example.com",
        "enterprise-desk",
        "emea-enterprise",
    )


def test_leads_show_and_hot_print_the_owner() -> None:
    from tools.leads_cli import format_card, format_hot

    state, alert = _routed_alert()
    state.card = alert.card
    lines = format_card(score_card(state, []))
    assert "Owner:    tom.berg@example.com (queue enterprise-desk, route emea-enterprise)" in lines
    rows = [hot_row(state), hot_row(LeadState(lead_id="lead-b", email="bo@acme.com", card=alert.card))]
    table = format_hot(rows)
    assert table[0].split()[:5] == ["score", "tier", "grade", "lead", "owner"]
    assert "tom.berg@example.com" in table[1] and " - " in table[2]
    assert "owner" not in format_hot(rows[1:])[0]  # no owner on the page: no column


def test_validate_routes_the_sample_leads_beside_the_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = example()
    del raw["routing"]["default"]
    # covers every made-up (region, segment) lead, which has no title, but no real sample lead with one
    raw["routing"]["routes"] = [
        {
            "id": "untitled",
            "when": {"profile": {"field": "job_title", "exists": False}},
            "queue": "inbound-sdr",
        }
    ]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(raw))
    assert main(["rules", "validate", str(path)]) == 0  # no sample leads beside it: combinations only
    (tmp_path / "sample-leads.jsonl").write_text(LEADS.read_text())
    assert main(["rules", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "routing: sample lead dana.reyes@northwindlabs.io (sample-leads.jsonl) matches no route" in err
    assert "spy@rivalscore.com" not in err  # no title: routed
