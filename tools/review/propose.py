"""The proposed rules file: the current document with learned points, a threshold and a calibration.

Only numbers change, so marketing reviews a small diff and publishes it with ``leadscore rules
publish``. An activity rule's cap in points (``cap.max_points``) is scaled with its points, so the
cap still stops at the same number of occurrences the features were counted with.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from leadscore.rules.compiler import parse_document
from leadscore.rules.model import MAX_CALIBRATION_SLOPE, MAX_SCORE, RulesDocument

from tools.review.analysis import Analysis
from tools.review.features import Featurizer


def proposed_document(
    document: RulesDocument, featurizer: Featurizer, analysis: Analysis, horizon_days: float
) -> dict[str, Any]:
    raw: dict[str, Any] = document.model_dump(by_alias=True, mode="json")
    model = raw["models"][featurizer.model.name]
    learned = dict(zip(featurizer.rule_ids, analysis.points.tolist(), strict=True))
    for kind in ("fit", "activity"):
        for rule in model[kind]:
            new = float(learned.get(rule["id"], rule["points"]))
            old = float(rule["points"])
            cap = rule.get("cap")
            if cap and cap.get("max_points") is not None and old and new:
                cap["max_points"] = min(MAX_SCORE, round(cap["max_points"] * abs(new / old), 1))
            rule["points"] = new
    if analysis.learned_threshold is not None:
        model["thresholds"]["sales_ready"] = max(0.0, analysis.learned_threshold)
    slope, intercept = analysis.learned_calibration
    model["calibration"] = {
        "slope": min(max(round(slope, 6), 0.0), MAX_CALIBRATION_SLOPE),
        "intercept": round(intercept, 4),
        "horizon_days": round(horizon_days),
        "fitted": f"leadscore review, {analysis.report['population']['leads']} leads to "
        f"{analysis.report['population']['to']}",
    }
    raw["version"] = f"{document.version or 'rules'}+review"
    return raw


def _text(doc: dict[str, Any]) -> list[str]:
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").splitlines(keepends=True)


def write_proposal(
    document: RulesDocument, featurizer: Featurizer, analysis: Analysis, path: Path, horizon_days: float
) -> str:
    """Write the proposed file (validated like any rules file) and ``<path>.diff``; return the diff."""
    proposed = proposed_document(document, featurizer, analysis, horizon_days)
    parse_document(proposed)  # raises RulesValidationError naming the field if a number is out of bounds
    current = document.model_dump(by_alias=True, mode="json")
    diff = "".join(difflib.unified_diff(_text(current), _text(proposed), "current", str(path), n=2))
    path.write_text("".join(_text(proposed)), encoding="utf-8")
    Path(f"{path}.diff").write_text(diff, encoding="utf-8")
    return diff
