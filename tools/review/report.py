"""The review as text (a terminal) and as one self-contained HTML file (inline SVG; no network).

Both render the report dictionary that ``--json`` prints, so the three outputs always agree.
"""

from __future__ import annotations

import html as _html
import math
from typing import Any


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _fmt(value: float) -> str:
    return f"{value:g}"


def headline(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures the text and the HTML both lead with."""
    pop, t = report["population"], report["thresholds"]
    comp = report["comparison"]
    out = [
        ("Leads reviewed", f"{pop['leads']:,} ({pop['from']} to {pop['to']}, {pop['weeks']:.0f} weeks)"),
        ("Base conversion rate", f"{_pct(pop['base_rate'])} ({pop['conversions']:,} converted)"),
        ("Holdout AUC, hand rules", _num(comp["hand"]["auc"])),
        ("Holdout AUC, learned weights", _num(comp["learned"]["auc"])),
    ]
    if "truth" in comp:
        out.append(("Holdout AUC, hidden truth (simulator)", _num(comp["truth"]["auc"])))
    for who, key in (("hand", "hand_proposed"), ("learned", "learned_proposed")):
        pick = t[key]
        judged = comp[who].get("at_threshold")
        if pick and judged:
            out.append(
                (
                    f"Proposed threshold, {who}",
                    f"{_fmt(pick['threshold'])}: holdout precision {_pct(judged['precision'])}, recall "
                    f"{_pct(judged['recall'])}, {judged['leads_per_week']:.1f} leads/week",
                )
            )
        else:
            out.append((f"Proposed threshold, {who}", "none meets the capacity and target precision"))
    return out


def text(report: dict[str, Any]) -> list[str]:
    m, pop = report["method"], report["population"]
    lines = [
        f"leadscore review: {report.get('source', '')}; rules {report.get('rules_version', '')}"
        f" (model {report.get('model', 'lead')}), {report.get('reviewed_at', '')}",
        "",
    ]
    width = max(len(k) for k, _ in headline(report))
    lines += [f"{k + ':':<{width + 1}} {v}" for k, v in headline(report)]
    left = ", ".join(f"{k} {v:,}" for k, v in sorted(pop["left_out"].items())) or "none"
    lines += [
        "",
        "Method:",
        f"  - features as of the decision point: {m['decision_point']}; replayed from the history",
        f"  - converted = a 'converted' outcome within {m['horizon_days']:g} days of it; {m['no_outcome']}",
        f"  - {m['open_left_out']}; left out: {left}",
        f"  - holdout: {m['holdout']}, from {m['holdout_from']}",
        f"  - weights: {m['weights']}; {m['points_per_log_odds']:.1f} points per unit of log-odds",
        f"  - sample: {m['sample']['rows']:,} rows of {m['sample']['leads']:,} leads"
        + (" (every lead)" if m["sample"]["exact"] else " (uniform sample; counts scaled)"),
        f"  - refuses below {m['minimum']}",
        "",
        "Conversion by grade (fit A-D x activity 4-1):",
        "        4        3        2        1",
    ]
    cells = {g["grade"]: g for g in report["grades"]}
    for fit in "ABCD":
        row = [cells[f"{fit}{a}"] for a in "4321"]
        lines.append(
            f"  {fit}  "
            + " ".join(f"{_pct(c['conversion']):>6} ({c['leads']:>5,})"[:16].ljust(8) for c in row)
        )
    lines += [
        "",
        "Conversion by score decile (hand rules):",
        "  decile  scores            leads   conversion",
    ]
    for d in report["deciles"]:
        lines.append(
            f"  {d['decile']:>6}  {d['min_score']:>7g} .. {d['max_score']:<7g} {d['leads']:>6,}   {_pct(d['conversion'])}"
        )
    t = report["thresholds"]
    lines += ["", "Thresholds (hand rules, training rows): threshold, precision, recall, lift, leads/week"]
    table = t["hand_table"]
    step = max(1, len(table) // 12)
    for r in table[::step]:
        lines.append(
            f"  {r['threshold']:>8g}  {_pct(r['precision']):>6}  {_pct(r['recall']):>6}"
            f"  {_num(r['lift'], 2):>5}x  {r['leads_per_week']:>8.1f}"
        )
    cap = t["capacity_per_week"]
    target = t["target_precision"]
    lines.append(
        "  proposed for "
        + (f"a capacity of {cap:g}/week" if cap else "")
        + (" and " if cap and target else "")
        + (f"a target precision of {target:.0%}" if target else "")
        + ("the best F1 (no capacity or target given)" if not cap and not target else "")
    )
    lines += ["", "Rules: conversion when fired vs not (all matured leads), hand and learned points"]
    lines.append(
        f"  {'rule':<24} {'fired':>7} {'when':>7} {'not':>7} {'lift':>6} {'hand':>7} {'learned':>8}  verdict"
    )
    for r in report["rules"]:
        lines.append(
            f"  {r['rule']:<24} {r['fired']:>7,} {_pct(r['conversion_fired']):>7} {_pct(r['conversion_not_fired']):>7}"
            f" {_num(r['lift'], 2):>6} {r['points']:>7g} {r['learned_points']:>8g}  {r['verdict']}"
        )
    comp = report["comparison"]
    lines += [
        "",
        "Hand vs learned on the holdout:",
        f"  {'':<10} {'AUC':>6} {'Brier':>7} {'prec@thr':>9} {'top@cap':>8}",
    ]
    for who in ("hand", "learned", "truth"):
        if who not in comp:
            continue
        c = comp[who]
        at = c.get("at_threshold") or {}
        top = c.get("top_at_capacity") or {}
        lines.append(
            f"  {who:<10} {_num(c['auc']):>6} {_num(c.get('brier'), 4):>7} {_pct(at.get('precision')):>9}"
            f" {_pct(top.get('precision')):>8}"
        )
    cal = report["calibration"]["hand"]
    lines += [
        "",
        f"Calibration of the hand score: P(convert within {m['horizon_days']:g} days) = "
        f"1 / (1 + exp(-({cal['slope']:.5f} * score + {cal['intercept']:.3f})))",
    ]
    if report.get("proposal"):
        lines.append(
            f"Proposed rules: {report['proposal']['file']} (diff: {report['proposal']['file']}.diff)"
        )
    if report.get("html"):
        lines.append(f"HTML report: {report['html']}")
    return lines


# ---------------------------------------------------------------------------------------------- HTML
_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;max-width:1100px}
h1{font-size:22px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dde;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0} td,th{padding:3px 8px;border-bottom:1px solid #eef;text-align:right}
th{background:#f4f6fb} td.l,th.l{text-align:left} .flag{color:#b3261e;font-weight:600}
.figures td{text-align:left} .grid{display:flex;flex-wrap:wrap;gap:24px} figure{margin:0}
figcaption{font-size:12px;color:#556} svg text{font-size:11px;fill:#334}
"""
W, H, PAD = 480, 260, 40


def _e(value: object) -> str:
    return _html.escape(str(value))


def _axis(x0: float, x1: float, y0: float, y1: float, xlabel: str, ylabel: str, yfmt: str = "{:.0%}") -> str:
    parts = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#889"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#889"/>',
        f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle">{_e(xlabel)}</text>',
        f'<text x="12" y="{H / 2}" transform="rotate(-90 12 {H / 2})" text-anchor="middle">{_e(ylabel)}</text>',
    ]
    for i in range(5):
        fx = x0 + (x1 - x0) * i / 4
        fy = y0 + (y1 - y0) * i / 4
        px = PAD + (W - 10 - PAD) * i / 4
        py = H - PAD - (H - PAD - 10) * i / 4
        parts.append(f'<text x="{px:.1f}" y="{H - PAD + 14}" text-anchor="middle">{fx:.0f}</text>')
        parts.append(f'<text x="{PAD - 4}" y="{py + 4:.1f}" text-anchor="end">{yfmt.format(fy)}</text>')
    return "".join(parts)


def _category_axes(yticks: list[str], *, xlabel: str = "", ylabel: str = "") -> list[str]:
    """The axes of a bar chart over categories (score bands, tiers): both lines, the labels given and
    the five y tick labels from 0 to the top, bottom up; the bars label their own slots."""
    parts = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#889"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#889"/>',
    ]
    if xlabel:
        parts.append(f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle">{_e(xlabel)}</text>')
    if ylabel:
        parts.append(
            f'<text x="12" y="{H / 2}" transform="rotate(-90 12 {H / 2})" text-anchor="middle">{_e(ylabel)}</text>'
        )
    for i, label in enumerate(yticks):
        py = H - PAD - (H - PAD - 10) * i / (len(yticks) - 1)
        parts.append(f'<text x="{PAD - 4}" y="{py + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def _svg(body: str, chart_id: str, title: str) -> str:
    return (
        f'<figure><svg id="{chart_id}" class="chart" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(title)}">{body}</svg>'
        f"<figcaption>{_e(title)}</figcaption></figure>"
    )


def _sx(v: float, lo: float, hi: float) -> float:
    return PAD + (W - 10 - PAD) * ((v - lo) / ((hi - lo) or 1))


def _sy(v: float, lo: float, hi: float) -> float:
    return H - PAD - (H - PAD - 10) * ((v - lo) / ((hi - lo) or 1))


def chart_distribution(report: dict[str, Any]) -> str:
    h = report["histogram"]
    edges, conv, other = h["edges"], h["converted"], h["not_converted"]
    tc, to = sum(conv) or 1, sum(other) or 1
    share_c = [c / tc for c in conv]
    share_o = [o / to for o in other]
    top = max(*share_c, *share_o, 0.01)
    bars = []
    for i in range(len(conv)):
        x0, x1 = _sx(edges[i], edges[0], edges[-1]), _sx(edges[i + 1], edges[0], edges[-1])
        w = max(x1 - x0 - 1, 1)
        for share, color, cls in ((share_o[i], "#9aa7bd", "not"), (share_c[i], "#2e7d32", "conv")):
            y = _sy(share, 0, top)
            bars.append(
                f'<rect class="bar {cls}" x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{H - PAD - y:.1f}" '
                f'fill="{color}" fill-opacity="0.6"/>'
            )
    legend = (
        f'<rect x="{W - 150}" y="14" width="10" height="10" fill="#2e7d32"/><text x="{W - 136}" y="23">converted</text>'
        f'<rect x="{W - 150}" y="30" width="10" height="10" fill="#9aa7bd"/><text x="{W - 136}" y="39">not converted</text>'
    )
    body = _axis(edges[0], edges[-1], 0, top, "hand score", "share of leads") + "".join(bars) + legend
    return _svg(body, "chart-distribution", "Score distribution: converted vs not (share of each group)")


def chart_bands(report: dict[str, Any]) -> str:
    bands = report["bands"]
    top = max([b["conversion"] for b in bands] + [0.01])
    n = len(bands)
    slot = (W - 10 - PAD) / max(n, 1)
    parts = _category_axes([f"{top * i / 4:.0%}" for i in range(5)], xlabel="score band (hand rules)")
    for i, b in enumerate(bands):
        x = PAD + i * slot + 2
        y = _sy(b["conversion"], 0, top)
        parts.append(
            f'<rect class="bar band" x="{x:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" height="{H - PAD - y:.1f}" '
            f'style="fill:#1565c0"><title>{_fmt(b["from"])}..{_fmt(b["to"])}: {b["conversion"]:.1%} of {b["leads"]}</title></rect>'
        )
        parts.append(
            f'<text x="{x + slot / 2 - 2:.1f}" y="{H - PAD + 14}" text-anchor="middle">{_fmt(b["from"])}</text>'
        )
    return _svg("".join(parts), "chart-bands", "Conversion by score band (all reviewed leads)")


def chart_thresholds(report: dict[str, Any]) -> str:
    table = report["thresholds"]["hand_table"]
    if not table:
        return ""
    xs = [r["threshold"] for r in table]
    lo, hi = min(xs), max(xs)
    lpw_top = max(r["leads_per_week"] for r in table) or 1

    def line(key: str, color: str, scale: float = 1.0, cls: str = "") -> str:
        pts = " ".join(f"{_sx(r['threshold'], lo, hi):.1f},{_sy(r[key] / scale, 0, 1):.1f}" for r in table)
        return f'<polyline class="line {cls}" fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>'

    body = _axis(lo, hi, 0, 1, "threshold (hand score)", "precision / recall")
    body += line("precision", "#2e7d32", cls="precision") + line("recall", "#1565c0", cls="recall")
    body += line("leads_per_week", "#ef6c00", lpw_top, cls="leads-per-week")
    pick = report["thresholds"]["hand_proposed"]
    if pick:
        x = _sx(pick["threshold"], lo, hi)
        body += f'<line class="proposed" x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{H - PAD}" stroke="#b3261e" stroke-dasharray="4 3"/>'
        body += f'<text x="{x + 4:.1f}" y="22" style="fill:#b3261e">proposed {_fmt(pick["threshold"])}</text>'
    body += (
        f'<text x="{W - 150}" y="40" style="fill:#2e7d32">precision</text><text x="{W - 150}" y="54" style="fill:#1565c0">recall</text>'
        f'<text x="{W - 150}" y="68" style="fill:#ef6c00">leads/week (max {lpw_top:.0f})</text>'
    )
    return _svg(body, "chart-thresholds", "Precision, recall and leads per week against the threshold")


def chart_grades(report: dict[str, Any]) -> str:
    cells = {g["grade"]: g for g in report["grades"]}
    top = max([g["conversion"] or 0 for g in report["grades"]] + [0.01])
    size = 52
    parts = [f'<text x="{PAD + 30 + 2 * size}" y="8" text-anchor="middle">activity</text>']
    for a_i, act in enumerate("4321"):
        parts.append(f'<text x="{PAD + 30 + a_i * size + size / 2}" y="22" text-anchor="middle">{act}</text>')
    for f_i, fit in enumerate("ABCD"):
        y = 30 + f_i * size
        parts.append(f'<text x="{PAD + 22}" y="{y + size / 2 + 4}" text-anchor="end">fit {fit}</text>')
        for a_i, act in enumerate("4321"):
            cell = cells[f"{fit}{act}"]
            rate = cell["conversion"]
            shade = 0.08 + 0.92 * ((rate or 0) / top)
            x = PAD + 30 + a_i * size
            label = _pct(rate, 0) if rate is not None else "-"
            parts.append(
                f'<rect class="cell" data-grade="{fit}{act}" x="{x}" y="{y}" width="{size - 2}" height="{size - 2}" '
                f'fill="#c62828" fill-opacity="{shade:.2f}"><title>{fit}{act}: {label} of {cell["leads"]}</title></rect>'
                f'<text x="{x + size / 2 - 1}" y="{y + size / 2}" text-anchor="middle">{label}</text>'
                f'<text x="{x + size / 2 - 1}" y="{y + size / 2 + 13}" text-anchor="middle" font-size="9">n={cell["leads"]}</text>'
            )
    return _svg("".join(parts), "chart-grades", "Conversion by grade cell (fit A-D by activity 4-1)")


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f'<th class="{"l" if i == 0 else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i == 0 else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def html(report: dict[str, Any]) -> str:
    m = report["method"]
    figures = _table(["figure", "value"], [[_e(k), _e(v)] for k, v in headline(report)], "figures")
    rule_rows = []
    for r in report["rules"]:
        flag = r["verdict"] != "predicts"
        verdict = f'<span class="{"flag" if flag else ""}">{_e(r["verdict"])}</span>'
        rule_rows.append(
            [
                _e(r["rule"]),
                f"{r['fired']:,}",
                _pct(r["conversion_fired"]),
                _pct(r["conversion_not_fired"]),
                _num(r["lift"], 2),
                _e(_fmt(r["points"])),
                _e(_fmt(r["learned_points"])),
                verdict,
            ]
        )
    comp = report["comparison"]
    comp_rows = []
    for who in ("hand", "learned", "truth"):
        if who in comp:
            c = comp[who]
            at = c.get("at_threshold") or {}
            top = c.get("top_at_capacity") or {}
            comp_rows.append(
                [
                    _e(who),
                    _num(c["auc"]),
                    _num(c.get("brier"), 4),
                    _e(_fmt(at["threshold"])) if at else "-",
                    _pct(at.get("precision")),
                    _pct(at.get("recall")),
                    _pct(top.get("precision")),
                ]
            )
    deciles = [
        [
            str(d["decile"]),
            f"{d['min_score']:g} .. {d['max_score']:g}",
            f"{d['leads']:,}",
            _pct(d["conversion"]),
        ]
        for d in report["deciles"]
    ]
    method = "".join(
        f"<li>{_e(x)}</li>"
        for x in (
            f"Features as of the decision point: {m['decision_point']}, replayed from each lead's history.",
            f"Converted: a 'converted' outcome within {m['horizon_days']:g} days; {m['no_outcome']}.",
            f"{m['open_left_out']}. Left out: {report['population']['left_out']}.",
            f"Holdout: {m['holdout']}, from {m['holdout_from']}.",
            f"Weights: {m['weights']}.",
            f"The review refuses below {m['minimum']}.",
        )
    )
    proposal = ""
    if report.get("proposal"):
        proposal = f"<h2>Proposed rules</h2><p>{_e(report['proposal']['file'])}</p><pre>{_e(report['proposal']['diff'][:20000])}</pre>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>leadscore review</title><style>{_CSS}</style></head>
<body>
<h1>leadscore review</h1>
<p>{_e(report.get("source", ""))}; rules {_e(report.get("rules_version", ""))}; {_e(report.get("reviewed_at", ""))}</p>
<h2>Figures</h2>{figures}
<h2>Charts</h2><div class="grid">{chart_distribution(report)}{chart_bands(report)}{chart_thresholds(report)}{chart_grades(report)}</div>
<h2>Hand rules vs learned weights (holdout)</h2>
{_table(["score", "AUC", "Brier", "threshold", "precision", "recall", "precision at capacity"], comp_rows, "comparison")}
<h2>Rule lift</h2>
{_table(["rule", "fired", "conv. when fired", "conv. when not", "lift", "hand points", "learned points", "verdict"], rule_rows, "rules")}
<h2>Conversion by decile</h2>{_table(["decile", "scores", "leads", "conversion"], deciles, "deciles")}
<h2>Method</h2><ul>{method}</ul>
{proposal}
</body></html>
"""
