"""The review's computation: one streaming pass, then figures on a bounded sample.

The pass (:class:`Collector`) keeps, whatever the number of leads:

- exact counts over every matured lead: leads, conversions, per grade cell and per rule (fired or not);
- a uniform reservoir sample of at most ``sample_cap`` rows (decision time, label, score, features):
  memory is ``sample_cap * (rules + 4) * 8`` bytes at most (about 75 MB for 250,000 rows and 33 rules).

The figures that need rows (bands, thresholds, the holdout, the fitted weights and calibration) are
computed on the sample. Below ``sample_cap`` leads the sample is every lead and they are exact; above
it the report says so and scales counts to the whole population.

Method: a **time-ordered holdout**, never a random split. Rows are ordered by decision time; the
newest ``holdout`` share is held out. Weights, calibration and the proposed threshold are fitted on
the older rows only, and every comparison (hand against learned) is made on the held-out rows.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tools.review.features import GRADE_CELLS, Row
from tools.review.learn import Array, Linear, auc, fit_logistic, fit_naive_bayes, fit_platt, sigmoid

WEEK = 7 * 86_400
MIN_CONVERSIONS = 30  # below this many conversions, or this many leads not converted, the review refuses
MIN_LOSSES = 30
MIN_HOLDOUT_CONVERSIONS = 10
LOGISTIC_MIN_CONVERSIONS = 200  # fewer conversions in the training rows: naive-Bayes log-odds instead
LIFT_FLAG = 1.2  # a positive rule whose lift is below this (or a negative one above 1/this) does not predict
MIN_FIRED = 20  # a rule that fired for fewer leads is "too rare to judge"


class TooLittleData(Exception):
    """The review refuses: too few conversions or losses to say anything."""


@dataclass
class Collector:
    rule_ids: list[str]
    sample_cap: int = 250_000
    seed: int = 0
    n: int = 0
    conversions: int = 0
    left_out: Counter[str] = field(default_factory=Counter)
    grades: dict[str, list[int]] = field(default_factory=dict)
    fired: npt.NDArray[np.int64] = field(init=False)
    fired_won: npt.NDArray[np.int64] = field(init=False)
    first_at: int | None = None
    last_at: int | None = None

    def __post_init__(self) -> None:
        k, cap = len(self.rule_ids), self.sample_cap
        self.fired = np.zeros(k, dtype=np.int64)
        self.fired_won = np.zeros(k, dtype=np.int64)
        self.t = np.zeros(cap, dtype=np.int64)
        self.y = np.zeros(cap, dtype=np.bool_)
        self.score = np.zeros(cap, dtype=np.float64)
        self.x = np.zeros((cap, k), dtype=np.float64)
        self.truth = np.full(cap, np.nan)
        self.size = 0
        self._rng = random.Random(self.seed)

    def skip(self, why: str) -> None:
        self.left_out[why] += 1

    def add(self, row: Row, truth: float | None = None) -> None:
        self.n += 1
        self.conversions += row.converted
        cell = self.grades.setdefault(row.grade, [0, 0])
        cell[0] += 1
        cell[1] += row.converted
        x = np.asarray(row.x, dtype=np.float64)
        hit = x != 0
        self.fired += hit
        if row.converted:
            self.fired_won += hit
        self.first_at = row.decided_at if self.first_at is None else min(self.first_at, row.decided_at)
        self.last_at = row.decided_at if self.last_at is None else max(self.last_at, row.decided_at)
        if self.size < self.sample_cap:
            slot = self.size
            self.size += 1
        else:
            slot = self._rng.randrange(self.n)
            if slot >= self.sample_cap:
                return
        self.t[slot] = row.decided_at
        self.y[slot] = row.converted
        self.score[slot] = row.score
        self.x[slot] = x
        self.truth[slot] = np.nan if truth is None else truth


@dataclass
class Split:
    """Rows of the sample, in decision-time order."""

    t: npt.NDArray[np.int64]
    y: npt.NDArray[np.bool_]
    score: Array
    x: Array
    truth: Array

    def weeks(self) -> float:
        return max((float(self.t.max()) - float(self.t.min())) / WEEK, 1.0) if len(self.t) else 1.0


def parse_capacity(text: str) -> float:
    """``40/week``, ``8/day``, ``160/month`` or a bare number (per week)."""
    per = {"week": 1.0, "wk": 1.0, "day": 7.0, "month": 12 / 52, "mo": 12 / 52}
    number, _, unit = text.partition("/")
    value = float(number)
    factor = per.get(unit.strip().lower() or "week")
    if factor is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f"capacity {text!r}: give leads per week, e.g. 40/week")
    return value * factor


def _rate(won: float, n: float) -> float | None:
    return won / n if n else None


def thresholds(
    score: Array, y: npt.NDArray[np.bool_], weeks: float, scale: float, base: float
) -> list[dict[str, Any]]:
    """Per candidate threshold (score >= t): precision, recall, lift, leads per week (population)."""
    if not len(score):
        return []
    qs = np.quantile(score, np.linspace(0.0, 0.995, 200))
    candidates = np.unique(np.round(qs, 1))
    order = np.argsort(score)
    s_sorted = score[order]
    won_above = np.cumsum(y[order][::-1])[::-1]  # conversions at or above each sorted position
    total_won = int(y.sum())
    out = []
    for t in candidates:
        at = int(np.searchsorted(s_sorted, t, side="left"))
        n_above = len(score) - at
        if n_above == 0:
            continue
        won = int(won_above[at])
        precision = won / n_above
        out.append(
            {
                "threshold": float(t),
                "leads": n_above,
                "precision": precision,
                "recall": won / total_won if total_won else 0.0,
                "lift": precision / base if base else None,
                "leads_per_week": n_above * scale / weeks,
            }
        )
    return out


def propose(
    table: list[dict[str, Any]], capacity: float | None, target: float | None
) -> dict[str, Any] | None:
    """The lowest threshold (most leads, best recall) within the capacity and the target precision.
    With neither given: the best F1."""
    feasible = [
        r
        for r in table
        if r["leads"] >= 10
        and (capacity is None or r["leads_per_week"] <= capacity)
        and (target is None or r["precision"] >= target)
    ]
    if not feasible:
        return None
    if capacity is None and target is None:
        return max(
            feasible, key=lambda r: 2 * r["precision"] * r["recall"] / ((r["precision"] + r["recall"]) or 1)
        )
    return min(feasible, key=lambda r: r["threshold"])


def at_threshold(
    score: Array, y: npt.NDArray[np.bool_], t: float, weeks: float, scale: float
) -> dict[str, Any]:
    above = score >= t
    n = int(above.sum())
    won = int(y[above].sum())
    total = int(y.sum())
    return {
        "threshold": t,
        "leads": n,
        "precision": won / n if n else None,
        "recall": won / total if total else None,
        "leads_per_week": n * scale / weeks,
    }


def top_k_precision(score: Array, y: npt.NDArray[np.bool_], k: int) -> float | None:
    if k <= 0 or not len(score):
        return None
    k = min(k, len(score))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].mean())


def deciles(score: Array, y: npt.NDArray[np.bool_]) -> list[dict[str, Any]]:
    if len(score) < 10:
        return []
    order = np.argsort(-score, kind="stable")
    out = []
    for d, part in enumerate(np.array_split(order, 10), 1):
        out.append(
            {
                "decile": d,
                "min_score": float(score[part].min()),
                "max_score": float(score[part].max()),
                "leads": len(part),
                "conversion": float(y[part].mean()),
            }
        )
    return out


def bands(score: Array, y: npt.NDArray[np.bool_], width: float = 20.0) -> list[dict[str, Any]]:
    lo = math.floor(float(np.percentile(score, 1)) / width) * width
    hi = math.ceil(float(np.percentile(score, 99.5)) / width) * width
    edges = np.arange(lo, hi + width, width)
    out = []
    for a, b in itertools.pairwise(edges):
        inside = (score >= a) & (score < b)
        if a == edges[0]:
            inside |= score < a
        if b == edges[-1]:
            inside |= score >= b
        n = int(inside.sum())
        if n:
            out.append({"from": float(a), "to": float(b), "leads": n, "conversion": float(y[inside].mean())})
    return out


def histogram(score: Array, y: npt.NDArray[np.bool_], bins: int = 30) -> dict[str, Any]:
    lo, hi = float(np.percentile(score, 0.5)), float(np.percentile(score, 99.5))
    if hi <= lo:
        hi = lo + 1
    edges = np.linspace(lo, hi, bins + 1)
    clipped = np.clip(score, lo, hi)
    conv, _ = np.histogram(clipped[y], edges)
    other, _ = np.histogram(clipped[~y], edges)
    return {"edges": [float(e) for e in edges], "converted": conv.tolist(), "not_converted": other.tolist()}


def calibration_table(p: Array, y: npt.NDArray[np.bool_]) -> list[dict[str, Any]]:
    order = np.argsort(p)
    out = []
    for part in np.array_split(order, 5):
        if len(part):
            out.append(
                {"predicted": float(p[part].mean()), "observed": float(y[part].mean()), "leads": len(part)}
            )
    return out


@dataclass
class Analysis:
    report: dict[str, Any]
    train: Split
    holdout: Split
    learned: Linear
    points: Array  # learned points per rule
    hand_points: Array
    hand_calibration: tuple[float, float]
    learned_calibration: tuple[float, float]
    learned_threshold: float | None
    hand_threshold: float | None


def _verdict(
    n_fired: int, lift: float | None, rate_fired: float | None, hand: float, learned: float, kept: bool
) -> str:
    """What the review says of one rule, from its lift and its learned points."""
    if kept:
        return "kept (disqualifies)" if n_fired >= MIN_FIRED else "too rare to judge"
    if n_fired < MIN_FIRED:
        return "too rare to judge"
    if lift is None:
        verdict = "predicts" if rate_fired else "does not predict"
    elif (
        (hand > 0 and lift < LIFT_FLAG)
        or (hand < 0 and lift > 1 / LIFT_FLAG)
        or (hand == 0 and 1 / LIFT_FLAG < lift < LIFT_FLAG)
    ):
        verdict = "does not predict"
    else:
        verdict = "predicts"
    if verdict == "predicts" and hand and abs(learned) < 0.15 * abs(hand) + 1:
        verdict = "adds nothing once the other rules are counted"
    return verdict


def _rule_row(c: Collector, i: int, hand: float, learned: float, kept: bool) -> dict[str, Any]:
    """One rule's line in the report: how often it fired, conversion with and without it, lift."""
    n_f, won_f = int(c.fired[i]), int(c.fired_won[i])
    n_o, won_o = c.n - n_f, c.conversions - won_f
    r_f, r_o = _rate(won_f, n_f), _rate(won_o, n_o)
    lift = (r_f / r_o) if (r_f is not None and r_o) else None
    return {
        "rule": c.rule_ids[i],
        "points": hand,
        "learned_points": learned,
        "fired": n_f,
        "conversion_fired": r_f,
        "conversion_not_fired": r_o,
        "lift": lift,
        "verdict": _verdict(n_f, lift, r_f, hand, learned, kept),
    }


def analyse(
    c: Collector,
    hand_points: list[float],
    *,
    capacity: float | None,
    target_precision: float | None,
    holdout: float = 0.3,
    horizon_days: float = 90,
    as_of_days: float = 14,
    l2: float = 1.0,
    keep: list[bool] | None = None,
) -> Analysis:
    """The report. ``keep``: rules whose hand points stand whatever the data (disqualifying rules are
    policy, not prediction); rules that fired for fewer than ``MIN_FIRED`` leads keep theirs too."""
    losses = c.n - c.conversions
    if c.conversions < MIN_CONVERSIONS or losses < MIN_LOSSES:
        raise TooLittleData(
            f"too little data to review: {c.conversions} conversion(s) and {losses} lead(s) not converted "
            f"among {c.n} matured lead(s); the review needs at least {MIN_CONVERSIONS} of each "
            f"(leads still inside their {horizon_days:g}-day horizon are left out: "
            f"{c.left_out.get('open', 0)})"
        )
    size = c.size
    order = np.argsort(c.t[:size], kind="stable")
    t, y, score, x, truth = c.t[order], c.y[order], c.score[order], c.x[order], c.truth[order]
    cut = round(size * (1 - holdout))
    train = Split(t[:cut], y[:cut], score[:cut], x[:cut], truth[:cut])
    hold = Split(t[cut:], y[cut:], score[cut:], x[cut:], truth[cut:])
    if int(hold.y.sum()) < MIN_HOLDOUT_CONVERSIONS or int(train.y.sum()) < MIN_HOLDOUT_CONVERSIONS:
        raise TooLittleData(
            f"too little data to hold out: {int(train.y.sum())} conversion(s) before "
            f"and {int(hold.y.sum())} after the time cut; each side needs {MIN_HOLDOUT_CONVERSIONS}"
        )
    scale = c.n / size  # sampled rows stand for this many leads each
    base = c.conversions / c.n
    hand = np.asarray(hand_points, dtype=np.float64)

    # ---- learned weights (training rows only)
    if int(train.y.sum()) >= LOGISTIC_MIN_CONVERSIONS:
        model = fit_logistic(train.x, train.y, l2=l2)
    else:
        model = fit_naive_bayes(train.x, train.y)
    logit_train = model.logit(train.x) - model.intercept
    spread = float(np.std(logit_train))
    per_logit = float(np.std(train.score)) / spread if spread > 0 else 20.0
    per_logit = per_logit if math.isfinite(per_logit) and per_logit > 0 else 20.0
    points = np.clip(np.round(model.weights * per_logit, 1), -1000, 1000)
    kept = (c.fired < MIN_FIRED) | np.asarray(keep if keep is not None else [False] * len(hand), dtype=bool)
    points = np.where(kept, hand, points)
    learned_train = train.x @ points
    learned_hold = hold.x @ points

    # ---- calibration (sigmoid of the score, fitted on the training rows)
    hand_cal = fit_platt(train.score, train.y)
    learned_cal = fit_platt(learned_train, train.y)
    p_hand = sigmoid(hand_cal[0] * hold.score + hand_cal[1])
    p_learned = sigmoid(learned_cal[0] * learned_hold + learned_cal[1])

    # ---- thresholds: proposed on the training rows, judged on the holdout
    base_train = float(train.y.mean())
    hand_table = thresholds(train.score, train.y, train.weeks(), scale, base_train)
    learned_table = thresholds(learned_train, train.y, train.weeks(), scale, base_train)
    hand_pick = propose(hand_table, capacity, target_precision)
    learned_pick = propose(learned_table, capacity, target_precision)
    hand_t = hand_pick["threshold"] if hand_pick else None
    learned_t = learned_pick["threshold"] if learned_pick else None
    hold_weeks = hold.weeks()

    def judged(s: Array, t_: float | None, p: Array) -> dict[str, Any]:
        out: dict[str, Any] = {
            "auc": auc(s, hold.y),
            "brier": float(np.mean((p - hold.y) ** 2)),
            "calibration": calibration_table(p, hold.y),
        }
        if t_ is not None:
            out["at_threshold"] = at_threshold(s, hold.y, t_, hold_weeks, scale)
        if capacity is not None:
            k = int(capacity * hold_weeks / scale)
            out["top_at_capacity"] = {"leads": k, "precision": top_k_precision(s, hold.y, k)}
        return out

    comparison: dict[str, Any] = {
        "hand": judged(hold.score, hand_t, p_hand),
        "learned": judged(learned_hold, learned_t, p_learned),
    }
    if not np.isnan(hold.truth).any():
        truth_entry: dict[str, Any] = {"auc": auc(hold.truth, hold.y)}
        if capacity is not None:
            k = int(capacity * hold_weeks / scale)
            truth_entry["top_at_capacity"] = {"leads": k, "precision": top_k_precision(hold.truth, hold.y, k)}
        comparison["truth"] = truth_entry

    # ---- per-rule lift (every matured lead, exact)
    rules = [
        _rule_row(c, i, float(hand[i]), float(points[i]), keep is not None and keep[i])
        for i in range(len(c.rule_ids))
    ]

    grades = []
    for cell in GRADE_CELLS:
        n_cell, won_cell = c.grades.get(cell, [0, 0])
        grades.append({"grade": cell, "leads": n_cell, "conversion": _rate(won_cell, n_cell)})

    everything = np.concatenate([train.score, hold.score])
    labels = np.concatenate([train.y, hold.y])
    report: dict[str, Any] = {
        "method": {
            "decision_point": f"{as_of_days:g} days after a lead is first seen"
            " (or one day before its first outcome)",
            "horizon_days": horizon_days,
            "no_outcome": f"a lead with no outcome {horizon_days:g} days after its decision point"
            " counts as not converted",
            "open_left_out": "leads whose horizon has not passed yet are left out",
            "holdout": f"time-ordered: the newest {holdout:.0%} of leads by decision time"
            " (never a random split)",
            "holdout_from": _iso(int(hold.t.min())),
            "sample": {"rows": size, "leads": c.n, "exact": size == c.n},
            "weights": model.method
            + (
                f" (fewer than {LOGISTIC_MIN_CONVERSIONS} training conversions)"
                if model.method == "naive-bayes"
                else ""
            ),
            "points_per_log_odds": per_logit,
            "minimum": f"{MIN_CONVERSIONS} conversions and {MIN_LOSSES} leads not converted",
        },
        "population": {
            "leads": c.n,
            "conversions": c.conversions,
            "base_rate": base,
            "left_out": dict(c.left_out),
            "from": _iso(c.first_at),
            "to": _iso(c.last_at),
            "weeks": max(((c.last_at or 0) - (c.first_at or 0)) / WEEK, 1.0),
        },
        "grades": grades,
        "deciles": deciles(everything, labels),
        "bands": bands(everything, labels),
        "histogram": histogram(everything, labels),
        "thresholds": {
            "capacity_per_week": capacity,
            "target_precision": target_precision,
            "hand_table": hand_table,
            "learned_table": learned_table,
            "hand_proposed": hand_pick,
            "learned_proposed": learned_pick,
            "holdout_table": thresholds(hold.score, hold.y, hold_weeks, scale, float(hold.y.mean())),
        },
        "rules": rules,
        "comparison": comparison,
        "calibration": {
            "hand": {"slope": hand_cal[0], "intercept": hand_cal[1]},
            "learned": {"slope": learned_cal[0], "intercept": learned_cal[1]},
        },
    }
    return Analysis(report, train, hold, model, points, hand, hand_cal, learned_cal, learned_t, hand_t)


def _iso(epoch: int | None) -> str | None:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d") if epoch is not None else None
