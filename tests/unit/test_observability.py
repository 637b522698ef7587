"""Metric dimensions are real EMF dimensions, so CloudWatch can filter and alarm on them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from leadscore.observability import count, metrics


def _documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def test_a_count_with_dimensions_is_filterable_by_them(capsys: pytest.CaptureFixture[str]) -> None:
    count("RequestsRejected", status=422, error="invalid_field")
    (doc,) = _documents(capsys.readouterr().out)
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Leadscore"
    assert sorted(directive["Dimensions"][0]) == ["error", "service", "status"]
    assert [m["Name"] for m in directive["Metrics"]] == ["RequestsRejected"]
    assert (doc["status"], doc["error"], doc["service"], doc["RequestsRejected"]) == (
        "422",
        "invalid_field",
        "leadscore",
        [1.0],
    )


def test_a_count_without_dimensions_joins_the_invocation_document(capsys: pytest.CaptureFixture[str]) -> None:
    count("EventsQueued", 3)
    assert _documents(capsys.readouterr().out) == []  # nothing written until the flush
    metrics.flush_metrics()
    (doc,) = _documents(capsys.readouterr().out)
    assert doc["EventsQueued"] == [3.0]
