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
"""

from __future__ import annotations

from dataclasses import dataclass

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
    survival = np.cumprod(1.0 - events[keep] / at_risk[keep])
    return Survival(durations[starts[keep]], survival, float(durations[-1]), n)
