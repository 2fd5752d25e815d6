"""Kaplan–Meier estimate of time to removal, with right censoring.

A report still online has not come down *yet*: all we know is that its time to removal
exceeds the time it has been watched. Dropping such reports, or counting them as removed
now, both bias the figures towards fast removal; Kaplan–Meier uses them for exactly what
they tell us. At each distinct event time t_j with d_j removals among n_j reports still at
risk (not yet removed, nor censored before t_j):

    S(t) = prod over t_j <= t of (1 - d_j / n_j)

A report censored at the same instant as a removal is still at risk at that instant (the
usual convention, and lifelines' too).

Quantiles follow PRODUCT.md: the median is the smallest t with S(t) <= 0.5, p90 the
smallest t with S(t) <= 0.1; ``None`` where S never gets that low. ``at(T)`` is ``None``
beyond the longest follow-up unless S already reached 0: no report was watched that long,
so the data say nothing about S(T).

``band()`` is the pointwise confidence band from Greenwood's variance,

    Var S(t) = S(t)^2 * sum over t_j <= t of d_j / (n_j (n_j - d_j)),

taken on the log(-log S) scale (the "exponential Greenwood" interval, lifelines' default)
so that it stays inside [0, 1] and is asymmetric where S is near either end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# S is a running product of up to a million factors, so a value that is exactly 0.5 in
# exact arithmetic can come out as 0.5000000000000001. Differences this small are rounding,
# not data, and must not move a quantile on by a whole step.
ROUNDING = 1e-10


@dataclass(frozen=True)
class Survival:
    """A fitted Kaplan–Meier curve: S just after each distinct removal time."""

    times: np.ndarray  # distinct times with at least one removal, ascending
    survival: np.ndarray  # S(t) at each of those times (right-continuous step)
    horizon: float  # longest follow-up, removed or censored; nan for an empty sample
    count: int  # reports in the sample
    # Greenwood's running sum of d_j / (n_j (n_j - d_j)) at those times; inf once S hits 0
    greenwood: np.ndarray = field(default_factory=lambda: np.empty(0))
    removals: np.ndarray = field(default_factory=lambda: np.empty(0))  # d_j at each time

    def at(self, t: float) -> float | None:
        """S(t), or None when the sample is empty or nobody was followed as long as t."""
        if self.count == 0:
            return None
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        s = 1.0 if i < 0 else float(self.survival[i])
        if t > self.horizon and s > 0.0:
            return None
        return s

    def quantile(self, level: float) -> float | None:
        """The smallest t with S(t) <= level, or None when S never gets that low."""
        # -S is ascending, so the first index with -S >= -level is the first S <= level.
        i = int(np.searchsorted(-self.survival, -(level + ROUNDING), side="left"))
        return float(self.times[i]) if i < len(self.times) else None

    def points(self) -> list[tuple[float, float]]:
        """Step points for a chart (draw as a post-step): from (0, 1) to the horizon."""
        if self.count == 0:
            return []
        points = [(0.0, 1.0)]
        points += [(float(t), float(s)) for t, s in zip(self.times, self.survival, strict=True)]
        if self.horizon > points[-1][0]:
            # The flat censored tail is information too: S held that long.
            points.append((float(self.horizon), points[-1][1]))
        return points

    def removal_percentile(self, share: float) -> float | None:
        """The time by which ``share`` of the removals observed had happened (not S's quantile:
        this ignores the censored; it is how far a chart must reach to show that many drops)."""
        if not len(self.times):
            return None
        seen = np.cumsum(self.removals)
        return float(self.times[int(np.searchsorted(seen, share * seen[-1], side="left"))])

    def band(self, confidence: float = 0.95) -> list[tuple[float, float, float]]:
        """``(t, low, high)`` from (0, 1, 1) at each step of ``points()``: S's band there."""
        if self.count == 0:
            return []
        z = _normal_quantile(0.5 + confidence / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_s = np.log(self.survival)
            spread = z * np.sqrt(self.greenwood) / np.abs(log_s)
            centre = np.log(-log_s)
            low, high = np.exp(-np.exp(centre + spread)), np.exp(-np.exp(centre - spread))
        # S = 0 (everyone removed): the band closes at 0, as the curve does.
        low, high = np.where(self.survival > 0, low, 0.0), np.where(self.survival > 0, high, 0.0)
        band = [(0.0, 1.0, 1.0)]
        band += [
            (float(t), float(a), float(b)) for t, a, b in zip(self.times, low, high, strict=True)
        ]
        if self.horizon > band[-1][0]:
            band.append((float(self.horizon), band[-1][1], band[-1][2]))
        return band


def _normal_quantile(p: float) -> float:
    """The standard normal quantile, by bisection on erf (no scipy for one number)."""
    low, high = -10.0, 10.0
    for _ in range(100):
        middle = (low + high) / 2
        if 0.5 * (1 + math.erf(middle / math.sqrt(2))) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def kaplan_meier(durations, removed, *, presorted: bool = False) -> Survival:
    """Fit S from follow-up ``durations`` (seconds) and ``removed`` (event observed) flags.

    ``presorted`` skips the sort when the caller already ordered the sample by duration,
    as ``figures`` does once for all groups of a breakdown.
    """
    durations = np.asarray(durations, dtype=np.float64)
    removed = np.asarray(removed, dtype=bool)
    if durations.shape != removed.shape or durations.ndim != 1:
        raise ValueError("durations and removed must be one-dimensional and of equal length")
    n = len(durations)
    if n == 0:
        empty = np.empty(0)
        return Survival(empty, empty, float("nan"), 0)
    if not presorted:
        if np.isnan(durations).any():
            raise ValueError("durations must not be NaN")
        order = np.argsort(durations, kind="stable")
        durations, removed = durations[order], removed[order]

    # Runs of equal durations: where each starts, how many are at risk there (everyone from
    # that position on) and how many of the run were removed (ties are removed together).
    new_run = np.empty(n, dtype=bool)
    new_run[0], new_run[1:] = True, durations[1:] != durations[:-1]
    starts = np.flatnonzero(new_run)
    at_risk = n - starts
    events = np.add.reduceat(removed.view(np.int8), starts, dtype=np.int64)
    # Censor-only times leave S unchanged; keeping just the event times keeps the curve small.
    keep = events > 0
    d, at = events[keep], at_risk[keep]
    survival = np.cumprod(1.0 - d / at)
    with np.errstate(divide="ignore"):
        greenwood = np.cumsum(d / (at * (at - d).astype(np.float64)))
    return Survival(durations[starts[keep]], survival, float(durations[-1]), n, greenwood, d)
