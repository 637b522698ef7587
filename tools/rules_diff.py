"""`leadscore rules diff OLD NEW`: what happens to the leads if NEW is published instead of OLD.

    leadscore rules diff OLD NEW --leads FILE | --stack NAME | --table NAME | --local
                         [--now ISO] [--threshold N] [--top 10] [--html FILE] [--json]

Every lead is rebuilt from its events twice, with OLD and with NEW, and evaluated at the same date
(``--now``, default now; the report states it). The report: how many leads change tier in each
direction and between which tiers, the leads that would become sales-ready now, the top movers, and
the score distribution before and after (a text histogram; with ``--html`` a self-contained page in
the review report's style: inline SVG, no script, nothing fetched).

``--leads`` reads a JSONL file (``leadscore leads export`` writes one); ``--stack``/``--table``/``--local``
read the leads the way ``leads export`` does: ONE paginated Scan of the table (not the parallel
segments of ``leads rescore --all``, which run inside the stack's sweep workers), one lead at a time.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from leadscore.rules.compiler import CompiledRules

from tools.review.report import _CSS, PAD, H, W, _axis, _category_axes, _e, _svg, _sx, _sy, _table
from tools.rules_eval import Lead, score_leads, stamp

BAR = 24  # characters of the longest text bar


def _rank(rules: tuple[CompiledRules, CompiledRules]) -> dict[str, float]:
    """Tiers by height: disqualified, cold, each file's tiers by their minimum, sales_ready."""
    ranks: dict[str, float] = {"disqualified": -math.inf, "cold": -1e12, "sales_ready": math.inf}
    for r in rules:
        for model in r.models:
            for tier in model.thresholds.tiers:
                ranks.setdefault(tier.name, tier.min)
    return ranks


def _edges(scores: list[float], bins: int = 12) -> list[float]:
    """Round bin edges (1, 2, 2.5 or 5 x 10^k wide) covering every score in at most ``bins`` bins."""
    if not scores:
        return [0.0, 10.0]
    lo, hi = min(scores), max(scores)
    span = max(hi - lo, 1.0)
    width = 1.0
    for exponent in range(-1, 7):
        found = next((m * 10**exponent for m in (1, 2, 2.5, 5) if span / (m * 10**exponent) <= bins), None)
        if found is not None:
            width = found
            break
    start = math.floor(lo / width) * width
    count = max(1, math.floor((hi - start) / width) + 1)
    return [start + i * width for i in range(count + 1)]


def _counts(scores: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    width = edges[1] - edges[0]
    for score in scores:
        counts[min(len(counts) - 1, max(0, math.floor((score - edges[0]) / width)))] += 1
    return counts


def compute(
    leads: list[Lead],
    old: tuple[str, CompiledRules],
    new: tuple[str, CompiledRules],
    now: datetime,
    threshold: float | None,
    top: int = 10,
) -> dict[str, Any]:
    """The diff as a dictionary: ``--json`` prints it, the text and HTML render it."""
    before = {r["lead_id"]: r for r in score_leads(leads, old[1], now, threshold)}
    after = {r["lead_id"]: r for r in score_leads(leads, new[1], now, threshold)}
    ranks = _rank((old[1], new[1]))
    changes: Counter[tuple[str, str]] = Counter()
    movers = []
    sales_ready = []
    for lead_id, b in before.items():
        a = after[lead_id]
        label = b["email"] or lead_id
        if a["tier"] != b["tier"]:
            changes[(b["tier"], a["tier"])] += 1
        if a["tier"] == "sales_ready" and b["tier"] != "sales_ready":
            sales_ready.append(
                {"lead": label, "old_score": b["score"], "new_score": a["score"], "grade": a["grade"]}
            )
        delta = a["score"] - b["score"]
        if delta:
            movers.append(
                {
                    "lead": label,
                    "old_score": b["score"],
                    "new_score": a["score"],
                    "delta": delta,
                    "old_tier": b["tier"],
                    "new_tier": a["tier"],
                }
            )
    movers.sort(key=lambda m: (-abs(m["delta"]), m["lead"]))
    sales_ready.sort(key=lambda s: (-s["new_score"], s["lead"]))

    def up(change: tuple[str, str]) -> bool:
        return ranks.get(change[1], 0.0) > ranks.get(change[0], 0.0)

    old_scores = [r["score"] for r in before.values()]
    new_scores = [r["score"] for r in after.values()]
    edges = _edges(old_scores + new_scores)
    tiers = sorted({r["tier"] for r in (*before.values(), *after.values())}, key=lambda t: -ranks.get(t, 0.0))
    return {
        "old": {"file": old[0], "version": old[1].version},
        "new": {"file": new[0], "version": new[1].version},
        "evaluated_at": now.isoformat(),
        "evaluated": stamp(now),
        "leads": len(before),
        "changed_tier": sum(changes.values()),
        "up": sum(n for c, n in changes.items() if up(c)),
        "down": sum(n for c, n in changes.items() if not up(c)),
        "tier_changes": [
            {"from": f, "to": t, "leads": n, "direction": "up" if up((f, t)) else "down"}
            for (f, t), n in sorted(changes.items(), key=lambda x: (-x[1], x[0]))
        ],
        "tiers": [
            {
                "tier": t,
                "before": sum(r["tier"] == t for r in before.values()),
                "after": sum(r["tier"] == t for r in after.values()),
            }
            for t in tiers
        ],
        "now_sales_ready": sales_ready,
        "moved": len(movers),
        "top_movers": movers[:top],
        "histogram": {
            "edges": edges,
            "before": _counts(old_scores, edges),
            "after": _counts(new_scores, edges),
        },
    }


def _bar(count: int, most: int) -> str:
    return "#" * (round(BAR * count / most) if most else 0) or ("." if count else "")


def text(report: dict[str, Any]) -> list[str]:
    n = report["leads"]
    lines = [
        f"rules diff {report['old']['file']} -> {report['new']['file']}: {n} lead(s), "
        f"evaluated at {report['evaluated']}",
        "",
        f"Tier changes: {report['changed_tier']} of {n} lead(s) change tier "
        f"({report['up']} up, {report['down']} down)",
    ]
    for c in report["tier_changes"]:
        lines.append(f"  {c['direction']:<4} {c['from'] + ' -> ' + c['to']:<28} {c['leads']:>6}")
    lines += ["", "Tiers:        before    after"]
    for t in report["tiers"]:
        lines.append(f"  {t['tier']:<12} {t['before']:>6} {t['after']:>8}")
    ready = report["now_sales_ready"]
    lines += ["", f"Would become sales-ready now: {len(ready)}"]
    for s in ready:
        lines.append(f"  {s['lead']:<34} {s['old_score']:>8g} -> {s['new_score']:<8g} {s['grade']}")
    lines += ["", f"Top movers ({len(report['top_movers'])} of {report['moved']} whose score changes):"]
    for m in report["top_movers"]:
        tiers = f"{m['old_tier']} -> {m['new_tier']}" if m["old_tier"] != m["new_tier"] else m["new_tier"]
        lines.append(
            f"  {m['delta']:>+9.4g}  {m['lead']:<34} {m['old_score']:>8g} -> {m['new_score']:<8g} {tiers}"
        )
    h = report["histogram"]
    edges, most = h["edges"], max(*h["before"], *h["after"], 1)
    lines += [
        "",
        f"Score distribution ({edges[1] - edges[0]:g}-point bins):",
        f"  {'score':<16}{'before':<32}after",
    ]
    for i, (b, a) in enumerate(zip(h["before"], h["after"], strict=True)):
        label = f"[{edges[i]:g}, {edges[i + 1]:g})"
        lines.append(f"  {label:<16}{_bar(b, most):<{BAR}} {b:>6}  {_bar(a, most):<{BAR}} {a:>6}")
    return lines


# ---------------------------------------------------------------------------------------------- HTML
def chart_histogram(report: dict[str, Any]) -> str:
    h = report["histogram"]
    edges = h["edges"]
    top = _ticks_top(max(*h["before"], *h["after"], 1))
    bars = []
    for i in range(len(h["before"])):
        x0, x1 = _sx(edges[i], edges[0], edges[-1]), _sx(edges[i + 1], edges[0], edges[-1])
        half = max((x1 - x0 - 2) / 2, 1)
        for j, (key, color) in enumerate((("before", "#9aa7bd"), ("after", "#1565c0"))):
            y = _sy(h[key][i], 0, top)
            bars.append(
                f'<rect class="bar {key}" x="{x0 + 1 + j * half:.1f}" y="{y:.1f}" width="{half:.1f}" '
                f'height="{H - PAD - y:.1f}" fill="{color}" fill-opacity="0.8"/>'
            )
    legend = (
        f'<rect x="{W - 110}" y="14" width="10" height="10" fill="#9aa7bd"/>'
        f'<text x="{W - 96}" y="23">before (old)</text>'
        f'<rect x="{W - 110}" y="30" width="10" height="10" fill="#1565c0"/>'
        f'<text x="{W - 96}" y="39">after (new)</text>'
    )
    body = _axis(edges[0], edges[-1], 0, top, "score", "leads", "{:.0f}") + "".join(bars) + legend
    return _svg(body, "chart-histogram", "Score distribution before and after (leads per bin)")


def _ticks_top(most: int) -> int:
    """The y axis's top: a multiple of 4, so its five ticks are whole numbers of leads."""
    return max(4, math.ceil(most / 4) * 4)


def chart_tiers(report: dict[str, Any]) -> str:
    tiers = report["tiers"]
    top = _ticks_top(max([t["before"] for t in tiers] + [t["after"] for t in tiers] + [1]))
    slot = (W - 10 - PAD) / max(len(tiers), 1)
    parts = _category_axes([str(top * i // 4) for i in range(5)], ylabel="leads")
    for i, t in enumerate(tiers):
        x = PAD + slot * i
        w = max(slot * 0.4, 1)
        for j, (key, color) in enumerate((("before", "#9aa7bd"), ("after", "#1565c0"))):
            y = _sy(t[key], 0, top)
            parts.append(
                f'<rect class="tier {key}" x="{x + slot * 0.1 + j * w:.1f}" y="{y:.1f}" width="{w:.1f}" '
                f'height="{H - PAD - y:.1f}" fill="{color}"/>'
            )
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{H - PAD + 14}" text-anchor="middle">{_e(t["tier"])}</text>'
        )
    return _svg("".join(parts), "chart-tiers", "Leads per tier before and after")


def html(report: dict[str, Any]) -> str:
    figures = _table(
        ["figure", "value"],
        [
            [_e("Old rules"), _e(f"{report['old']['file']} ({report['old']['version']})")],
            [_e("New rules"), _e(f"{report['new']['file']} ({report['new']['version']})")],
            [_e("Evaluated at"), _e(report["evaluated"])],
            [_e("Leads"), f"{report['leads']:,}"],
            [
                _e("Change tier"),
                _e(f"{report['changed_tier']:,} ({report['up']:,} up, {report['down']:,} down)"),
            ],
            [_e("Would become sales-ready now"), f"{len(report['now_sales_ready']):,}"],
            [_e("Score changes"), f"{report['moved']:,}"],
        ],
        "figures",
    )
    changes = _table(
        ["from", "to", "direction", "leads"],
        [[_e(c["from"]), _e(c["to"]), _e(c["direction"]), f"{c['leads']:,}"] for c in report["tier_changes"]],
        "changes",
    )
    ready = _table(
        ["lead", "old score", "new score", "grade"],
        [
            [_e(s["lead"]), f"{s['old_score']:g}", f"{s['new_score']:g}", _e(s["grade"])]
            for s in report["now_sales_ready"]
        ],
        "ready",
    )
    movers = _table(
        ["lead", "change", "old score", "new score", "old tier", "new tier"],
        [
            [
                _e(m["lead"]),
                f"{m['delta']:+g}",
                f"{m['old_score']:g}",
                f"{m['new_score']:g}",
                _e(m["old_tier"]),
                _e(m["new_tier"]),
            ]
            for m in report["top_movers"]
        ],
        "movers",
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>leadscore rules diff</title><style>{_CSS}</style></head>
<body>
<h1>leadscore rules diff</h1>
<p>{_e(report["old"]["file"])} &rarr; {_e(report["new"]["file"])}; evaluated at {_e(report["evaluated"])}</p>
<h2>Figures</h2>{figures}
<h2>Charts</h2><div class="grid">{chart_histogram(report)}{chart_tiers(report)}</div>
<h2>Tier changes</h2>{changes}
<h2>Would become sales-ready now</h2>{ready}
<h2>Top movers</h2>{movers}
</body></html>
"""


# ---------------------------------------------------------------------------------------------- CLI
def _leads(args: argparse.Namespace) -> list[Lead]:
    from tools.leads_cli import LeadsCliError
    from tools.rules_eval import LeadsFileError, read_leads

    if args.leads:
        try:
            return read_leads(Path(args.leads))
        except (OSError, LeadsFileError) as exc:
            raise SystemExit(f"cannot read leads: {exc}") from None
    from tools.leads_export import records

    try:
        return [Lead(state.lead_id, state.email, history) for state, history in records(args)]
    except LeadsCliError as exc:
        raise SystemExit(f"cannot read leads: {exc}") from None


def cmd_diff(args: argparse.Namespace) -> int:
    from tools.cli import evaluation_time
    from tools.rules_source import compile_file

    old = (args.old, compile_file(Path(args.old))[1])
    new = (args.new, compile_file(Path(args.new))[1])
    now = evaluation_time(args.now)
    report = compute(_leads(args), old, new, now, args.threshold, args.top)
    if args.html:
        Path(args.html).write_text(html(report), encoding="utf-8")
        report["html"] = args.html
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    print("\n".join(text(report)))
    if args.html:
        print(f"\nHTML report: {args.html}")
    return 0


def add_parser(rules: Any) -> None:
    p = rules.add_parser("diff", help="what publishing NEW instead of OLD does to the leads")
    p.add_argument("old")
    p.add_argument("new")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--leads", help="a JSONL leads file (leadscore leads export writes one)")
    where.add_argument("--stack", metavar="NAME", help="a deployed stack's leads (one paginated Scan)")
    where.add_argument("--table", metavar="NAME", help="a leads table's leads (one paginated Scan)")
    where.add_argument("--local", action="store_true", help="the `make serve` stack's leads")
    p.add_argument("--url", help="with --local: the server's URL")
    p.add_argument("--now", help="ISO date or time to evaluate at (default: now)")
    p.add_argument("--threshold", type=float, default=None, help="the SalesReadyThreshold parameter")
    p.add_argument("--top", type=int, default=10, help="how many top movers (default 10)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report with charts")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=cmd_diff)
