"""`leadscore rules validate` and `rules lint`: every problem of a rules file in one run.

Validation errors (the scorer would refuse the file), the checks that span rules (duplicate ids,
unknown fields and lists) and the semantic lint (:mod:`leadscore.rules.lint`) all run on the same
parsed document, each on whatever parts of it validate, so four mistakes give four errors at once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from leadscore.errors import RulesValidationError
from leadscore.rules.compiler import CompiledRules
from leadscore.rules.lint import Finding, lint_document

from tools.rules_source import compile_file, read_document


@dataclass
class Check:
    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rules: CompiledRules | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def check_file(path: Path, *, lint: bool = True) -> Check:
    """Validate (and lint) a rules file; never raises for a bad document."""
    check = Check(path)
    try:
        raw = read_document(path)
    except RulesValidationError as exc:  # not YAML/JSON at all: nothing more to look at
        check.errors.extend(exc.errors)
        return check
    try:
        check.rules = compile_file(path)[1]
    except RulesValidationError as exc:
        check.errors.extend(exc.errors)
    if lint:
        findings: list[Finding] = lint_document(raw)
        check.errors.extend(str(f) for f in findings if f.level == "error")
        check.warnings.extend(str(f) for f in findings if f.level == "warning")
    if check.rules is not None and check.rules.routing is not None:
        check.errors.extend(unrouted_samples(path, check.rules))
    if check.errors:
        check.rules = None
    return check


SAMPLE_LEADS = "sample-leads.jsonl"


def unrouted_samples(path: Path, rules: CompiledRules) -> list[str]:
    """The sample leads beside the rules file (``sample-leads.jsonl``) that routing gives no owner."""
    from datetime import UTC, datetime

    from tools.rules_eval import LeadsFileError, read_leads, score_leads

    samples = path.parent / SAMPLE_LEADS
    if not samples.is_file():
        return []
    try:
        rows = score_leads(read_leads(samples), rules, datetime.now(UTC), None)
    except LeadsFileError as exc:
        return [f"routing: cannot route {samples}: {exc}"]
    return [
        f"routing: sample lead {r['email'] or r['lead_id']} ({samples.name}) matches no route and there is "
        "no default queue"
        for r in rows
        if not r["owner"]
    ]


def report(check: Check, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print a check as `validate`/`lint` do; 0 when there is no error (warnings are printed)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if check.errors:
        counts = f"{len(check.errors)} error(s)" + (
            f", {len(check.warnings)} warning(s)" if check.warnings else ""
        )
        print(f"{check.path}: {counts}", file=err)
        for error in check.errors:
            print(f"  - {error}", file=err)
        for warning in check.warnings:
            print(f"  warning: {warning}", file=err)
        return 1
    for warning in check.warnings:
        print(f"warning: {check.path}: {warning}", file=err)
    rules = check.rules
    if rules is not None:
        rule_count = sum(len(m.fit) + len(m.activity) for m in rules.models)
        print(
            f"ok: {check.path}: {len(rules.models)} model(s), {rule_count} rules, version {rules.version}"
            + (f", {len(check.warnings)} warning(s)" if check.warnings else ""),
            file=out,
        )
    return 0
