"""The local stack (`make demo`, `make serve`) publishes the YAML it is given, compiled as
`leadscore rules publish` does: editing a weight changes the score; a bad file stops it with every error."""

from __future__ import annotations

import io
import os
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from leadscore import clock

from tests.support import ROOT, RULES_EXAMPLE_YAML, load_event, reset_caches
from tools.local import leads
from tools.local.__main__ import main as local_main
from tools.local.console import Console
from tools.local.stack import LocalStack

DANA = "dana.reyes@northwindlabs.io"  # events/http-01-form-json.json: "VP of Engineering"


@pytest.fixture
def clean_environment() -> Iterator[None]:
    """LocalStack.start points the process's AWS settings at its moto server: put them back after."""
    saved = dict(os.environ)
    reset_caches()
    yield
    os.environ.clear()
    os.environ.update(saved)
    reset_caches()


def _score_of_dana(rules: Path) -> float:
    """Start the local stack as `make demo` does with these rules, post Dana's form, read her score."""
    event = load_event("http-01-form-json")
    # As the demo does: score as of an hour after the sample was recorded (not a late event).
    clock.pin(datetime.fromtimestamp(event["requestContext"]["timeEpoch"] // 1000 + 3600, UTC))
    local = LocalStack(ROOT, Console(io.StringIO()), rules=rules)
    try:
        local.start()
        local.stack.invoke("IngestFunction", event)
        local.stack.drain(timeout=20)
        lead = leads.lead(local.stack, DANA)
        assert lead is not None and lead.card is not None
        return float(lead.card.score)
    finally:
        # moto servers in one process share their backends: forget this stack before the next one.
        urllib.request.urlopen(
            urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/reset", method="POST")
        ).close()
        local.stop()
        clock.pin(None)


def test_editing_a_weight_in_the_yaml_changes_the_local_stack_score(
    clean_environment: None, tmp_path: Path
) -> None:
    text = RULES_EXAMPLE_YAML.read_text()
    assert "      - id: title-executive" in text
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace("points: 25\n", "points: 32\n", 1))  # title-executive: 25 -> 32
    assert _score_of_dana(edited) == _score_of_dana(RULES_EXAMPLE_YAML) + 7


def test_demo_with_a_bad_rules_file_prints_every_error_and_exits_2(
    clean_environment: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    text = RULES_EXAMPLE_YAML.read_text()
    bad.write_text(
        text.replace("points: 25\n", "points: lots\n", 1).replace(
            "field: job_title, regex", "field: job_titel, regex", 1
        )
    )
    assert local_main(["demo", "--rules", str(bad)]) == 2
    out = capsys.readouterr().out
    assert f"cannot start: rules file {bad}: 2 error(s)" in out
    assert "fit rule 'title-executive' field points" in out
    assert "field 'job_titel': unknown field; did you mean 'job_title'?" in out
