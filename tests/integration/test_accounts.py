"""Accounts (issue 18.1): leads grouped by company domain, the score rolled up, the buying committee,
one account alert per crossing (docs/architecture.md, "Accounts")."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadscore.dal.accounts import AccountStore
from leadscore.dal.leads import LeadRepository
from leadscore.models.event import CanonicalEvent, Identity, Profile
from leadscore.rules.compiler import CompiledRules, load_rules
from leadscore.scoring.accounts import Account, roll_up
from leadscore.services.scoring import score_batch

from tests.support import Stack, example_rules_json, run_sweep

NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
PEOPLE = {  # email -> job title
    "ada.chief@contoso.com": "CTO",
    "bo.lead@contoso.co.uk": "Engineering Manager",  # an alias of contoso.com (rules/example.yaml)
    "cy.dev@eu.contoso.com": "Senior Software Engineer",  # a subdomain of a mapped primary
}


@pytest.fixture(autouse=True)
def pinned(pin_clock: Callable[[datetime | None], None]) -> None:
    pin_clock(NOW)


def table(stack: Stack) -> str:
    return stack.env("ScorerFunction")["LEADS_TABLE"]


def rules() -> CompiledRules:
    return load_rules(example_rules_json())


def events(email: str, title: str, n: int = 4, demo: bool = True, at: datetime = NOW) -> list[CanonicalEvent]:
    out = [
        CanonicalEvent(
            event_id=f"{email}-view-{i}",
            source="test",
            type="page_view",
            occurred_at=at - timedelta(minutes=i + 1),
            identity=Identity(email=email),
            profile=Profile(
                first_name=email.split(".", maxsplit=1)[0].title(),
                job_title=title,
                industry="Software",
                company_size=800,
                country="US",
            )
            if i == 0
            else None,
            properties={"path": "/pricing" if i % 2 else f"/docs/{i}"},
        )
        for i in range(n)
    ]
    if demo:
        out.append(
            CanonicalEvent(
                event_id=f"{email}-demo",
                source="test",
                type="form_submit",
                name="Request a demo",
                occurred_at=at,
                identity=Identity(email=email),
            )
        )
    return out


def score(
    stack: Stack, batch: list[CanonicalEvent], now: datetime = NOW, repo: LeadRepository | None = None
) -> Any:
    repo = repo or LeadRepository(table(stack))
    report = score_batch(repo, batch, rules(), now, 100, 30)
    assert report.failures == {}
    return report


def account(stack: Stack, domain: str = "contoso.com") -> Account:
    found = AccountStore(table(stack)).get(domain)
    assert found is not None
    return found


def expected_score(stack: Stack, emails: list[str]) -> float:
    """The roll-up from the leads as stored: top 3 lead scores + account fit (40 for contoso)."""
    repo = LeadRepository(table(stack))
    cards = [repo.get_by_email(e).card for e in emails]
    accounts = rules().accounts
    assert accounts is not None
    return round(roll_up((c.score for c in cards if c), accounts) + 40, 4)


def test_account_score_follows_its_leads_through_events_decay_and_erasure(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    emails = list(PEOPLE)
    score(stack, [e for email, title in PEOPLE.items() for e in events(email, title, demo=False)])
    card = account(stack).card
    assert card is not None and card.members == 3
    assert card.score == expected_score(stack, emails)
    assert card.fit == 40 and len(card.reasons) == 3  # industry, size, country of the best profile

    # More events on one lead: the account follows.
    before = card.score
    score(stack, events(emails[0], PEOPLE[emails[0]], n=0, demo=True))
    card = account(stack).card
    assert card is not None and card.score > before
    assert card.score == expected_score(stack, emails)

    # Decay: 60 days later the sweep rescores the leads (their tiers move) and the account follows.
    later = NOW + timedelta(days=60)
    from leadscore import clock

    clock.pin(later)
    run_sweep(stack)
    decayed = account(stack).card
    assert decayed is not None and decayed.score < card.score
    assert decayed.score == expected_score(stack, emails)

    # Erasure of one lead: its contribution and its name leave the account; the card follows.
    stack.invoke("ErasureFunction", {"email": emails[0]})
    after = account(stack)
    assert after.card is not None and after.card.members == 2
    assert after.card.score == expected_score(stack, emails[1:])
    raw = stack.client("dynamodb").get_item(
        TableName=table(stack), Key={"pk": {"S": "ACCT#contoso.com"}, "sk": {"S": "ACCT"}}
    )
    assert "Ada" not in json.dumps(after.model_dump()) and raw["Item"]


def test_free_mail_education_and_disposable_leads_never_form_an_account(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    batch = [
        e
        for email in (
            "sam@gmail.com",
            "kim@outlook.com",
            "lee@mit.edu",
            "max@mailinator.com",
            "ops@leadscore.dev",
        )
        for e in events(email, "CTO")
    ]
    score(stack, batch)
    items = stack.client("dynamodb").scan(TableName=table(stack))["Items"]
    assert [i["pk"]["S"] for i in items if i["pk"]["S"].startswith("ACCT")] == []


def test_committee_counts_engaged_contacts_and_roles(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    people = {
        "a1@fabrikam.io": "VP Sales",
        "a2@fabrikam.io": "Chief Executive Officer",
        "b1@fabrikam.io": "Product Manager",
        "x1@fabrikam.io": "Intern",  # engaged, no role
    }
    batch = [e for email, title in people.items() for e in events(email, title, demo=False)]
    # Active 40 days ago only: not engaged (engaged_days 30), still a member.
    batch += events("old@fabrikam.io", "Solutions Architect", demo=False, at=NOW - timedelta(days=40))
    score(stack, batch)
    card = account(stack, "fabrikam.io").card
    assert card is not None
    assert card.members == 5
    assert card.engaged == 4
    assert card.roles == {"decision_maker": 2, "champion": 1, "technical_evaluator": 0}
    assert card.committee == "partial" and card.missing_roles == ["technical_evaluator"]
    score(stack, events("dev@fabrikam.io", "DevOps Engineer", demo=False))
    card = account(stack, "fabrikam.io").card
    assert card is not None and card.committee == "complete" and card.roles["technical_evaluator"] == 1


def _account_alerts(stack: Stack) -> list[dict[str, Any]]:
    return [m for m in stack.inbox() if m.get("Subject", "").startswith("Account")]


def test_one_crossing_gives_one_account_alert_naming_the_people(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    score(stack, [e for email, title in PEOPLE.items() for e in events(email, title)])
    stack.drain()
    alerts = _account_alerts(stack)
    assert len(alerts) == 1
    assert alerts[0]["Subject"] == "Account sales-ready: contoso.com, 3 people engaged"
    body = json.loads(alerts[0]["Message"]) if alerts[0]["Message"].startswith("{") else alerts[0]
    text = json.dumps(body)
    for name in ("Ada", "Bo", "Cy"):
        assert name in text
    assert "form_submit Request a demo" in text
    # Still above the threshold: more events raise no second alert.
    score(
        stack,
        [
            e
            for email, title in PEOPLE.items()
            for e in events(email, title, n=2, at=NOW + timedelta(hours=1))
        ],
    )
    stack.drain()
    assert _account_alerts(stack) == []  # the inbox was read above: nothing new


def test_one_account_crossing_gives_exactly_one_alert_under_concurrent_events_on_two_leads(
    stack: Stack, atomic_moto: None
) -> None:
    stack.upload_rules(example_rules_json())
    a, b = "ada.chief@contoso.com", "bo.lead@contoso.co.uk"
    # Each lead alone stays below the account's threshold; together they cross it.
    first = {a: events(a, "CTO", n=2, demo=False), b: events(b, "Engineering Manager", n=2, demo=False)}
    for batch in first.values():
        score(stack, batch)
    assert account(stack).card.tier != "sales_ready"
    second = {a: events(a, "CTO", n=0), b: events(b, "Engineering Manager", n=0)}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(batch: list[CanonicalEvent]) -> None:
        repo = LeadRepository(table(stack))  # each thread its own container
        barrier.wait()
        try:
            score(stack, batch, repo=repo)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in second.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    final = account(stack)
    assert final.card is not None and final.card.tier == "sales_ready"
    assert [x.kind for x in final.outbox.values()] == ["account_sales_ready"]
    assert final.card.score == expected_score(stack, [a, b])
    stack.drain()
    assert len(_account_alerts(stack)) == 1


SIGNED = {
    "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/execute-api/aws4_request"
}


def get(stack: Stack, path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    response = stack.call_http("GET", path, None, SIGNED, query)
    return response["statusCode"], json.loads(response["body"])


def test_api_serves_the_account_hot_list_page_by_page_and_the_account_card(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    score(stack, [e for email, title in PEOPLE.items() for e in events(email, title)])
    # Warm accounts: two people each at 25 companies (one shard holds several of them).
    score(
        stack,
        [
            e
            for n in range(25)
            for who in ("ann", "ben")
            for e in events(f"{who}@co{n:02d}.example", "VP Sales", n=2, demo=False)
        ],
    )
    status, page = get(stack, "/accounts", {"limit": "10"})
    assert status == 200
    assert page["accounts"][0]["domain"] == "contoso.com" and page["accounts"][0]["tier"] == "sales_ready"
    seen = [a["domain"] for a in page["accounts"]]
    while page["next_cursor"]:
        status, page = get(stack, "/accounts", {"limit": "10", "cursor": page["next_cursor"]})
        assert status == 200
        seen += [a["domain"] for a in page["accounts"]]
    assert len(seen) == len(set(seen)) == 26
    status, card = get(stack, "/accounts/contoso.com")
    assert status == 200
    assert card["committee"] == "complete" and card["members"] == 3
    assert [p["role"] for p in card["top"]][:3] and {p["name"] for p in card["recent_activity"]} == {
        "Ada",
        "Bo",
        "Cy",
    }
    assert get(stack, "/accounts/WWW.Contoso.com")[1]["domain"] == "contoso.com"
    status, body = get(stack, "/accounts/nobody.example")
    assert status == 404 and body["error"] == "account_not_found"
    status, body = get(stack, "/accounts/not a domain")
    assert status == 400 and "domain" in json.dumps(body)
    status, body = get(stack, "/accounts", {"cursor": "garbage"})
    assert status == 400 and "cursor" in json.dumps(body)
    status, body = get(stack, "/accounts", {"tier": "cold"})
    assert status == 422 and "tier" in json.dumps(body)


def test_cli_accounts_hot_and_show(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    from tools.cli import main

    stack.upload_rules(example_rules_json())
    score(stack, [e for email, title in PEOPLE.items() for e in events(email, title)])
    capsys.readouterr()
    assert main(["accounts", "hot", "--table", table(stack)]) == 0
    out = capsys.readouterr().out
    assert "contoso.com" in out and "sales_ready" in out and "complete" in out
    assert main(["accounts", "show", "contoso.com", "--table", table(stack)]) == 0
    out = capsys.readouterr().out
    assert (
        "Account contoso.com" in out
        and "committee: complete" in out
        and "Ada: form_submit Request a demo" in out
    )
    assert main(["accounts", "show", "contoso.com", "--json", "--table", table(stack)]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 3
    assert main(["accounts", "show", "nobody.example", "--table", table(stack)]) == 1
    assert "no account nobody.example" in capsys.readouterr().err


def test_a_failed_roll_up_fails_its_leads_events_and_their_retry_repairs_the_account(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.upload_rules(example_rules_json())
    batch = [e for email, title in PEOPLE.items() for e in events(email, title, demo=False)]
    original = AccountStore.put
    calls = {"n": 0}

    def flaky(self: AccountStore, item: dict[str, Any], expected_ver: int) -> Any:
        calls["n"] += 1
        if item["sk"]["S"] == "ACCT":  # the member shards are written, the summary is not
            raise RuntimeError("throttled")
        return original(self, item, expected_ver)

    monkeypatch.setattr(AccountStore, "put", flaky)
    report = score_batch(LeadRepository(table(stack)), batch, rules(), NOW, 100, 30)
    repo = LeadRepository(table(stack))
    assert set(report.failures) == {repo.get_by_email(e).lead_id for e in PEOPLE}
    assert AccountStore(table(stack)).get("contoso.com") is None
    monkeypatch.setattr(AccountStore, "put", original)
    # SQS redelivers the events: duplicates for the leads (nothing rewritten), the account is repaired.
    again = score_batch(LeadRepository(table(stack)), batch, rules(), NOW, 100, 30)
    assert again.failures == {} and again.duplicates == len(batch)
    card = account(stack).card
    assert card is not None and card.members == 3 and card.score == expected_score(stack, list(PEOPLE))


def test_a_large_account_moves_its_members_to_shard_items_and_keeps_counting_right(stack: Stack) -> None:
    stack.upload_rules(example_rules_json())
    emails = [f"p{i:03d}@bigco.example" for i in range(120)]
    score(stack, [e for email in emails for e in events(email, "Engineer", n=2, demo=False)])
    acc = account(stack, "bigco.example")
    sharded = [s for s, d in acc.digests.items() if not d.inline]
    assert sharded and len(sharded) < 16  # the busy shards have a member item, the others live inline
    assert acc.card is not None and acc.card.members == 120 and acc.card.engaged == 120
    assert acc.card.score == expected_score(stack, emails)
    items = stack.client("dynamodb").scan(TableName=table(stack))["Items"]
    assert len([i for i in items if i["sk"]["S"] == "MEM"]) == len(sharded)
    # A member of a sharded shard is erased: the counts and the roll-up follow.
    from leadscore.scoring.accounts import shard_of_member

    repo = LeadRepository(table(stack))
    leaving = next(e for e in emails if str(shard_of_member(repo.get_by_email(e).lead_id)) in sharded)
    stack.invoke("ErasureFunction", {"email": leaving})
    acc = account(stack, "bigco.example")
    assert acc.card is not None and acc.card.members == 119
    assert acc.card.score == expected_score(stack, [e for e in emails if e != leaving])
