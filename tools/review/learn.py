"""The statistics of the review, with numpy (the CLI only: nothing here is in the Lambda layer).

- :func:`auc`: the area under the ROC curve, by ranks (ties count one half);
- :func:`fit_logistic`: L2-regularized logistic regression by Newton's method (a handful of
  iterations on a features-by-features system: rules are few);
- :func:`fit_naive_bayes`: naive-Bayes log-odds per rule (Laplace-smoothed), for small data;
- :func:`fit_platt`: a sigmoid of the score, the calibration the rules file stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def auc(scores: Array, y: npt.NDArray[np.bool_]) -> float:
    """P(score of a random converted lead > that of a random other one), ties one half."""
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # average rank of each tie group, 1-based
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def sigmoid(z: Array) -> Array:
    out: Array = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    return out


@dataclass(frozen=True, slots=True)
class Linear:
    """log-odds = intercept + weights . x"""

    intercept: float
    weights: Array
    method: str  # "logistic-l2" or "naive-bayes"

    def logit(self, x: Array) -> Array:
        out: Array = self.intercept + x @ self.weights
        return out


def fit_logistic(x: Array, y: npt.NDArray[np.bool_], l2: float = 1.0, iterations: int = 30) -> Linear:
    """Minimize the log-loss plus ``l2/2 * |w|^2`` (the intercept is not penalized)."""
    n, k = x.shape
    design = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(k + 1)
    rate = float(y.mean())
    beta[0] = np.log(rate / (1 - rate))
    penalty = np.full(k + 1, l2)
    penalty[0] = 0.0
    target = y.astype(np.float64)
    for _ in range(iterations):
        p = sigmoid(design @ beta)
        gradient = design.T @ (p - target) + penalty * beta
        w = p * (1 - p)
        hessian = (design * w[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Linear(float(beta[0]), beta[1:].copy(), "logistic-l2")


def fit_naive_bayes(x: Array, y: npt.NDArray[np.bool_], alpha: float = 1.0) -> Linear:
    """Per rule, the log-odds of converting when it fired against when it did not (Odoo's method):
    w = log(P(fired|won)/P(fired|lost)) - log(P(not|won)/P(not|lost)), per unit of the feature."""
    fired = x > 0
    won, lost = y, ~y
    n_won, n_lost = float(won.sum()), float(lost.sum())
    f_won = (fired[won].sum(axis=0) + alpha) / (n_won + 2 * alpha)
    f_lost = (fired[lost].sum(axis=0) + alpha) / (n_lost + 2 * alpha)
    on = np.log(f_won / f_lost)
    off = np.log((1 - f_won) / (1 - f_lost))
    mean_when_fired = np.where(fired.any(axis=0), x.sum(axis=0) / np.maximum(fired.sum(axis=0), 1), 1.0)
    weights = (on - off) / np.maximum(mean_when_fired, 1e-9)
    intercept = float(np.log(n_won / n_lost) + off.sum())
    return Linear(intercept, weights, "naive-bayes")


def fit_platt(score: Array, y: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """(slope, intercept) with P(converted) = 1 / (1 + exp(-(slope * score + intercept))), fitted
    with Platt's smoothed targets (no probability of exactly 0 or 1)."""
    pos, neg = float(y.sum()), float((~y).sum())
    target = np.where(y, (pos + 1) / (pos + 2), 1 / (neg + 2))
    scale = float(np.std(score)) or 1.0
    s = (score - float(np.mean(score))) / scale
    design = np.column_stack([s, np.ones_like(s)])
    beta = np.array([0.0, float(np.log((pos + 1) / (neg + 1)))])
    for _ in range(50):
        p = sigmoid(design @ beta)
        gradient = design.T @ (p - target) + np.array([1e-6, 0.0]) * beta
        w = p * (1 - p)
        hessian = (design * w[:, None]).T @ design + np.diag([1e-6, 1e-9])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    slope = float(beta[0] / scale)
    intercept = float(beta[1] - beta[0] * float(np.mean(score)) / scale)
    return slope, intercept
