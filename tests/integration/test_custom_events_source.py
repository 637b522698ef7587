"""Custom events on EventBridge (issue 14, item 2): the rule's target, CustomEventsFunction, on the local
stack built from template.yaml. The events in ``events/eventbridge-*.json`` use the envelope of the
EventBridge user guide ("Event structure reference") around the detail schema of docs/custom-events.md."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from leadscore.dal.leads import LeadRepository
from leadscore.sources.custom_events import DETAIL_TYPES, InvalidCustomEventError, LeadEventDetail

from tests.support import ROOT, RULES_EXAMPLE_YAML, Stack, load_event, pinned_clock_at

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SOFIA = "sofia.martins@quantumfreight.io"


pinned_clock = pinned_clock_at(NOW)


def lead(stack: Stack, email: str) -> Any:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(email)


def test_demo_requested_with_firmographics_and_attribution_is_scored(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    answer = stack.invoke("CustomEventsFunction", load_event("eventbridge-01-demo-requested"))
    assert answer == {"accepted": 1, "detail_type": "Demo Requested"}
    stack.drain()
    state = lead(stack, SOFIA)
    assert state is not None and state.card is not None and "demo-request" in state.activity
    assert state.profile["company"] == "Quantum Freight"
    assert state.profile["company_size"] == 201
    assert state.profile["revenue"] == 40_000_000
    assert state.profile["job_title"] == "VP Operations"
    repo = LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"])
    ((event, _),) = repo.history(state.lead_id)
    assert (event.source, event.type, event.name, event.event_id) == (
        "eventbridge",
        "track",
        "Demo Requested",
        "crm-demo-7731",
    )
    assert event.properties["utm_campaign"] == "q4-ops-leaders"
    assert event.properties["event_source"] == "leadscore.custom"
    assert event.occurred_at == datetime(2026, 11, 23, 13, 49, 30, tzinfo=UTC)


def test_a_redelivered_event_is_counted_once(stack: Stack) -> None:
    stack.upload_rules(RULES_EXAMPLE_YAML)
    event = load_event("eventbridge-01-demo-requested")
    without_id = copy.deepcopy(event)
    del without_id["detail"]["event_id"]
    for _ in range(2):  # EventBridge's retries keep the envelope id
        stack.invoke("CustomEventsFunction", event)
        stack.invoke("CustomEventsFunction", without_id)
    stack.drain()
    state = lead(stack, SOFIA)
    assert state is not None and state.events_total == 2  # crm-demo-7731 and eventbridge:<envelope id>


def test_an_unknown_detail_type_is_logged_and_counted_never_failed(
    stack: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="leadscore")
    answer = stack.invoke("CustomEventsFunction", load_event("eventbridge-02-unknown-detail-type"))
    assert answer == {"accepted": 0, "unknown_detail_type": "Invoice Paid"}
    assert stack.pump_queue("EventsQueue").records == 0
    printed = capsys.readouterr().out  # the metrics (EMF)
    metrics = [json.loads(line) for line in printed.splitlines() if '"_aws"' in line]
    assert [m["CustomEventsUnknownType"] for m in metrics if "CustomEventsUnknownType" in m] == [[1.0]]
    (warning,) = [r for r in caplog.records if r.getMessage().startswith("unknown custom event detail type")]
    assert warning.__dict__["detail_type"] == "Invoice Paid"


def test_a_known_type_that_breaks_the_schema_fails_naming_the_fields_not_their_values(stack: Stack) -> None:
    with pytest.raises(InvalidCustomEventError) as raised:
        stack.invoke("CustomEventsFunction", load_event("eventbridge-bad-01-invalid-detail"))
    message = str(raised.value)
    assert "email" in message and "company.employees" in message
    assert "not-an-address" not in message  # no value is echoed (it may be PII)
    assert stack.pump_queue("EventsQueue").records == 0


def test_the_documented_schema_and_detail_types_are_the_code_s() -> None:
    """docs/custom-events.md lists every detail type and every detail field, with the version."""
    doc = (ROOT / "docs" / "custom-events.md").read_text()
    for detail_type in DETAIL_TYPES:
        assert f"`{detail_type}`" in doc, detail_type
    for name, field in LeadEventDetail.model_fields.items():
        members = [a for a in getattr(field.annotation, "__args__", ()) if hasattr(a, "model_fields")]
        if members:  # a nested object: each of its fields is listed as `name.field`
            for sub in members[0].model_fields:
                assert f"`{name}.{sub}`" in doc, f"{name}.{sub}"
        else:
            assert f"`{name}`" in doc, name
    assert "schema_version" in doc and '"schema_version": 1' in doc
    # The example in the doc is valid, and is the sample event's detail.
    example = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    assert example == load_event("eventbridge-01-demo-requested")
    LeadEventDetail.model_validate(example["detail"])


def test_put_events_reaches_the_function_only_through_the_template_s_rule(stack: Stack) -> None:
    """The rule as created from template.yaml (its pattern with CustomEventSources resolved) decides."""
    stack.upload_rules(RULES_EXAMPLE_YAML)
    sample = load_event("eventbridge-01-demo-requested")
    entry = {
        "Source": "leadscore.custom",
        "DetailType": "Demo Requested",
        "Detail": json.dumps(sample["detail"]),
    }
    assert stack.put_events([{**entry, "Source": "com.someone.else"}]) == []
    ((function, answer),) = stack.put_events([entry])
    assert (function, answer) == ("CustomEventsFunction", {"accepted": 1, "detail_type": "Demo Requested"})
    stack.drain()
    assert lead(stack, SOFIA) is not None


def test_custom_event_sources_is_a_list_of_sources(aws: None) -> None:
    stack = Stack.create(
        ROOT / "template.yaml", parameters={"CustomEventSources": "com.acme.crm,com.acme.app"}
    )
    detail = json.dumps({"schema_version": 1, "email": SOFIA})
    for source in ("com.acme.crm", "com.acme.app"):
        entry = {"Source": source, "DetailType": "Signed Up", "Detail": detail}
        assert [f for f, _ in stack.put_events([entry])] == ["CustomEventsFunction"], source
    assert (
        stack.put_events([{"Source": "leadscore.custom", "DetailType": "Signed Up", "Detail": detail}]) == []
    )


def test_the_rules_the_doc_names_score_those_detail_types() -> None:
    """Each `track` detail type in the doc's table is named in the rule of rules/example.yaml it lists."""
    import re

    doc = (ROOT / "docs" / "custom-events.md").read_text()
    rules = (ROOT / "rules" / "example.yaml").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| `track`[^|]*\| `([a-z-]+)` \|$", doc, flags=re.M)
    assert {detail_type for detail_type, _ in rows} == {
        t for t, kind in DETAIL_TYPES.items() if kind == "track"
    }
    for detail_type, rule_id in rows:
        block = rules.split(f"- id: {rule_id}\n", 1)[1].split("- id: ", 1)[0]
        assert detail_type in block, (detail_type, rule_id)
