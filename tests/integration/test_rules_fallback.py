"""A cold container falls back to the newest valid version of the rules object (issue 13).

The rules bucket is versioned. A container with no rules in memory whose current object is invalid,
unreadable or deleted used to send every event to the DLQ although the bucket held the last good
version; it now scores with that version, emits ``RulesFallback`` and logs which version it used.
Only when no version validates are the events retried.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.client import BaseClient
from leadscore.dal.leads import LeadRepository
from leadscore.dal.rules_store import MAX_FALLBACK_VERSIONS, reset_rules_cache

from tests.support import TEMPLATE, Stack, example_rules_json, pinned_clock_at

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
# Valid JSON that the rules model refuses: the document of issue 13 that overflowed scoring.
INVALID = b'{"models": {"lead": {"thresholds": {"alert_cooldown_hours": 1e305}}}}'


pinned_clock = pinned_clock_at(NOW)


@pytest.fixture
def s3_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every S3 call the code makes, as (operation, params)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "s3":
            calls.append((operation, params))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return calls


def _forms(stack: Stack, count: int, start: int = 0) -> list[str]:
    emails = [f"lead{i}@northwind.io" for i in range(start, start + count)]
    for i, email in enumerate(emails, start):
        body = json.dumps({"email": email, "submission_id": f"s{i}", "job_title": "CTO"})
        response = stack.call_http("POST", "/forms", body, {"content-type": "application/json"})
        assert response["statusCode"] == 202, response
    return emails


def _lead(stack: Stack, email: str) -> Any:
    return LeadRepository(stack.env("ScorerFunction")["LEADS_TABLE"]).get_by_email(email)


def _bucket_key(stack: Stack) -> tuple[str, str]:
    env = stack.env("ScorerFunction")
    return env["RULES_BUCKET"], env["RULES_KEY"]


def _fallback_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fallback's log records with their fields (what the JSON formatter writes)."""
    return [
        r.__dict__
        for r in caplog.records
        if r.getMessage().startswith("current rules object unusable; scoring with the newest valid")
    ]


def _cold(stack: Stack, emails: list[str], calls: list[tuple[str, dict[str, Any]]]) -> str:
    """Score ``emails`` on a cold scorer container; the rules version every card was scored with."""
    reset_rules_cache()  # a new container: no rules in memory
    calls.clear()
    results = stack.drain()
    assert sum(r.records for r in results if r.function == "ScorerFunction") == len(emails)
    assert not any(r.failed or r.to_dlq for r in results), [r.errors for r in results if r.failed]
    versions: set[str] = {_lead(stack, email).card.rules_version for email in emails}
    assert len(versions) == 1, versions
    return versions.pop()


def test_invalid_current_object_scores_with_the_newest_valid_version(
    stack: Stack,
    s3_calls: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="leadscore")
    older = stack.upload_rules(example_rules_json())
    good = stack.upload_rules(example_rules_json())  # the newest valid version
    bad = stack.upload_rules(INVALID)
    emails = _forms(stack, 20)
    assert _cold(stack, emails, s3_calls) == f"s3:{good}"  # 20 of 20 scored, none to the DLQ
    assert all(_lead(stack, e).card.fit == 25 for e in emails)  # by the example rules (C-level title)
    out = capsys.readouterr().out  # the metrics (EMF)
    assert '"RulesFallback"' in out and '"RulesInvalid"' in out
    (log,) = _fallback_logs(caplog)  # once, not per event
    assert log["version_id"] == good  # the log names the version used,
    assert [r["version_id"] for r in log["rejected"]] == [bad]  # the one rejected and its errors
    assert "alert_cooldown_hours" in log["rejected"][0]["errors"][0]
    versioned = [p["VersionId"] for op, p in s3_calls if op == "GetObject" and "VersionId" in p]
    assert versioned == [good] and older not in versioned  # newest first; the rejected one not again
    # The fallback is the container's last good rules: later batches do not list versions again.
    s3_calls.clear()
    more = _forms(stack, 3, start=20)
    stack.drain()
    assert {_lead(stack, e).card.rules_version for e in more} == {f"s3:{good}"}
    assert [op for op, _ in s3_calls] == []  # within the refresh interval: no S3 call at all


def test_deleted_current_object_scores_with_the_newest_valid_version(
    stack: Stack, s3_calls: list[tuple[str, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    good = stack.upload_rules(example_rules_json())
    bucket, key = _bucket_key(stack)
    marker = stack.client("s3").delete_object(Bucket=bucket, Key=key)
    assert marker.get("DeleteMarker") is True  # versioned: the delete is a marker, history kept
    emails = _forms(stack, 5)
    assert _cold(stack, emails, s3_calls) == f"s3:{good}"
    assert '"RulesFallback"' in capsys.readouterr().out
    listed = [p for op, p in s3_calls if op == "ListObjectVersions"]
    assert len(listed) == 1 and (listed[0]["Bucket"], listed[0]["Prefix"]) == (bucket, key)
    assert "KeyMarker" not in listed[0]  # one page: the key's versions only (IAM: s3:prefix)


def test_invalid_versions_are_skipped_and_an_unversioned_key_is_not_special(
    stack: Stack, s3_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    good = stack.upload_rules(example_rules_json())
    stack.upload_rules(b"{not json")
    stack.upload_rules(INVALID)
    bucket, key = _bucket_key(stack)
    # Another object sharing the prefix is not a version of the rules.
    stack.client("s3").put_object(Bucket=bucket, Key=key + ".bak", Body=example_rules_json())
    emails = _forms(stack, 2)
    assert _cold(stack, emails, s3_calls) == f"s3:{good}"


def test_no_valid_version_retries_the_events_and_does_not_list_per_batch(
    stack: Stack, s3_calls: list[tuple[str, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stack.upload_rules(b"{not json")
    stack.upload_rules(INVALID)
    first = _forms(stack, 3)
    reset_rules_cache()
    s3_calls.clear()
    results = stack.drain(max_rounds=1)
    assert sum(r.failed for r in results) == 3  # every record reported as a failure: retried
    assert all(_lead(stack, e) is None for e in first)  # nothing scored with nothing
    out = capsys.readouterr().out
    assert '"RulesUnavailable"' in out and '"RulesFallback"' not in out
    assert [op for op, _ in s3_calls].count("ListObjectVersions") == 1
    # The outcome is kept until the next refresh: the next batch fails without asking S3 again.
    s3_calls.clear()
    second = _forms(stack, 2, start=3)
    results = stack.drain(max_rounds=1)
    assert sum(r.failed for r in results) >= 2 and s3_calls == []  # (the first 3 are retried too)
    assert all(_lead(stack, e) is None for e in first + second)


def test_at_most_max_fallback_versions_are_fetched(
    stack: Stack, s3_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    stack.upload_rules(example_rules_json())  # valid, but older than the versions tried
    for _ in range(MAX_FALLBACK_VERSIONS + 2):
        stack.upload_rules(INVALID)
    _forms(stack, 1)
    reset_rules_cache()
    s3_calls.clear()
    results = stack.drain(max_rounds=1)
    assert sum(r.failed for r in results) == 1
    versioned = [p for op, p in s3_calls if op == "GetObject" and "VersionId" in p]
    assert len(versioned) == MAX_FALLBACK_VERSIONS  # older ones are not looked at


def test_warm_container_keeps_its_last_good_rules_and_never_lists_versions(
    aws: None, s3_calls: list[tuple[str, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stack = Stack.create(TEMPLATE, env_overrides={"ScorerFunction": {"RULES_REFRESH_SECONDS": "1"}})
    good = stack.upload_rules(example_rules_json())
    _forms(stack, 1)
    stack.drain()
    older = stack.upload_rules(example_rules_json())
    newer_bad = stack.upload_rules(INVALID)
    import time

    time.sleep(1.1)  # past the refresh interval: the warm container reads the (bad) current object
    s3_calls.clear()
    emails = _forms(stack, 1, start=1)
    stack.drain()
    assert _lead(stack, emails[0]).card.rules_version == f"s3:{good}"  # kept in memory, not `older`
    assert [op for op, _ in s3_calls] == ["GetObject"]
    assert newer_bad and older
    out = capsys.readouterr().out
    assert '"RulesInvalid"' in out and '"RulesFallback"' not in out
