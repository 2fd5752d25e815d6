"""The Kaplan–Meier estimator in stats.survival, against lifelines and an exact oracle.

lifelines is the reference implementation (test-only: it takes ~2 s to import). It computes
S as exp(cumsum(log(1 - d/n))) where we use a running product; the two agree to ~1e-12.
Where S lands *exactly* on 0.5 or 0.1 (common with ties and no censoring), either float
route may come out a hair above, and lifelines then reports the next time as the median.
PRODUCT.md says "the smallest t with S(t) <= 0.5", so there we assert an exact rational
oracle (fractions.Fraction) instead of lifelines.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stats.survival import kaplan_meier

lifelines = pytest.importorskip("lifelines")

HOUR = 3600.0


def exact_curve(durations, observed) -> list[tuple[float, Fraction]]:
    """(t, S(t)) at each removal time, in exact arithmetic: the textbook definition."""
    s, curve = Fraction(1), []
    for t in sorted({d for d, e in zip(durations, observed, strict=True) if e}):
        at_risk = sum(1 for d in durations if d >= t)
        removed = sum(1 for d, e in zip(durations, observed, strict=True) if e and d == t)
        s *= 1 - Fraction(removed, at_risk)
        curve.append((t, s))
    return curve


def exact_quantile(durations, observed, level: str) -> float | None:
    """PRODUCT.md: the smallest t with S(t) <= level, None when S never gets that low."""
    return next((t for t, s in exact_curve(durations, observed) if s <= Fraction(level)), None)


def sample(rng: np.random.Generator, n: int, kind: str, censored_share: float):
    """Durations (seconds) and removed flags of one synthetic sample."""
    if kind == "lognormal":
        durations = rng.lognormal(np.log(20 * HOUR), 1.2, n)
    elif kind == "exponential":
        durations = rng.exponential(48 * HOUR, n)
    elif kind == "hourly":  # rounded to whole hours over a short range: many ties
        durations = np.round(rng.uniform(0, 12, n)) * HOUR
    else:  # "heavy": a few near-instant removals and a long Pareto tail
        durations = (rng.pareto(1.1, n) + 0.001) * HOUR
    observed = rng.random(n) >= censored_share
    return durations, observed


def fit_lifelines(durations, observed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its "approximating percentile" notices
        fitter = lifelines.KaplanMeierFitter().fit(durations, event_observed=observed)
        p90 = fitter.percentile(0.1)
    return fitter, fitter.survival_function_.iloc[:, 0], fitter.median_survival_time_, p90


CASES = [
    (seed, kind, n, share)
    for seed, (kind, n, share) in enumerate(
        (kind, n, share)
        for kind in ("lognormal", "exponential", "hourly", "heavy")
        for n in (1, 2, 7, 60, 500)
        for share in (0.0, 0.3, 0.8, 1.0)
    )
]


@pytest.mark.parametrize(("seed", "kind", "n", "share"), CASES)
def test_agrees_with_lifelines(seed: int, kind: str, n: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    durations, observed = sample(rng, n, kind, share)
    ours = kaplan_meier(durations, observed)
    fitter, theirs, median, p90 = fit_lifelines(durations, observed)

    # S agrees at every point of lifelines' timeline (each distinct duration, and 0).
    for t, s in theirs.items():
        assert ours.at(t) == pytest.approx(s, abs=1e-9), t
    # ... and our curve only steps at removal times, with lifelines' values there.
    assert set(ours.times.tolist()) == set(durations[observed].tolist())
    for t, s in zip(ours.times, ours.survival, strict=True):
        assert theirs.loc[t] == pytest.approx(s, abs=1e-9)

    for level, lifelines_value, mine in (
        ("0.5", median, ours.quantile(0.5)),
        ("0.1", p90, ours.quantile(0.1)),
    ):
        assert mine == exact_quantile(durations.tolist(), observed.tolist(), level)
        if mine is None:
            # S never reaches the level (e.g. all censored): lifelines says inf, we say null.
            assert math.isinf(lifelines_value)
        elif abs(theirs.loc[mine] - float(level)) > 1e-9:
            assert mine == lifelines_value
        else:
            # S(mine) is exactly the level: see the module docstring. lifelines may pick
            # this time or the next one, depending on how its logs round.
            assert lifelines_value >= mine


def test_median_where_s_is_exactly_one_half_follows_product_md_not_lifelines() -> None:
    # 60 reports, all removed, one per second: S(30) = 30/60 = 1/2 exactly, so the median is
    # 30. lifelines' exp(sum(log)) gives S(30) = 0.5000000000000001 and so says 31.
    durations, observed = np.arange(1.0, 61.0), np.ones(60, dtype=bool)
    _, theirs, median, _ = fit_lifelines(durations, observed)
    assert kaplan_meier(durations, observed).quantile(0.5) == 30.0
    assert theirs.loc[30.0] == pytest.approx(0.5, abs=1e-12)
    assert median == 31.0


def test_all_censored() -> None:
    ours = kaplan_meier([5.0, 10.0, 10.0], [False, False, False])
    fitter, _, median, _ = fit_lifelines([5.0, 10.0, 10.0], [False, False, False])
    assert ours.quantile(0.5) is None and ours.quantile(0.1) is None
    assert math.isinf(median)
    assert ours.at(0) == ours.at(10.0) == 1.0
    # Nobody was watched past 10 s: S(11) is unknown, not 1 (lifelines would say 1).
    assert ours.at(11.0) is None
    assert ours.points() == [(0.0, 1.0), (10.0, 1.0)]


def test_none_censored() -> None:
    ours = kaplan_meier([4.0, 1.0, 3.0, 2.0], [True] * 4)
    assert ours.survival.tolist() == [0.75, 0.5, 0.25, 0.0]
    # S(2) is exactly 0.5, so 2 is the median by PRODUCT.md's definition.
    assert ours.quantile(0.5) == 2.0
    assert ours.quantile(0.1) == 4.0
    assert ours.at(1e9) == 0.0  # everyone removed: S stays 0 beyond the last observation


@pytest.mark.parametrize(("removed", "median", "at_5"), [(True, 5.0, 0.0), (False, None, 1.0)])
def test_single_record(removed: bool, median, at_5) -> None:
    ours = kaplan_meier([5.0], [removed])
    assert ours.quantile(0.5) == median
    assert ours.at(4.9) == 1.0
    assert ours.at(5.0) == at_5


def test_a_report_censored_at_a_removal_time_is_still_at_risk_then() -> None:
    ours = kaplan_meier([1.0, 1.0, 2.0], [True, False, True])
    assert ours.survival.tolist() == pytest.approx([2 / 3, 0.0])


def test_empty_sample_gives_no_figures() -> None:
    ours = kaplan_meier([], [])
    assert ours.quantile(0.5) is None and ours.at(0) is None and ours.points() == []


def test_rejects_nan_and_mismatched_input() -> None:
    with pytest.raises(ValueError):
        kaplan_meier([1.0, float("nan")], [True, True])
    with pytest.raises(ValueError):
        kaplan_meier([1.0, 2.0], [True])


def test_points_step_at_removals_and_end_at_the_horizon() -> None:
    ours = kaplan_meier([1.0, 2.0, 9.0], [True, False, False])
    assert ours.points() == [(0.0, 1.0), (1.0, pytest.approx(2 / 3)), (9.0, pytest.approx(2 / 3))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=1, max_size=40))
def test_matches_the_exact_definition(pairs) -> None:
    durations = [float(d) for d, _ in pairs]
    observed = [e for _, e in pairs]
    ours = kaplan_meier(durations, observed)
    exact = exact_curve(durations, observed)
    assert ours.times.tolist() == [t for t, _ in exact]
    assert ours.survival.tolist() == pytest.approx([float(s) for _, s in exact], abs=1e-12)
    for level in ("0.5", "0.1", "0.25"):
        assert ours.quantile(float(level)) == exact_quantile(durations, observed, level)
    presorted = sorted(zip(durations, observed, strict=True))
    again = kaplan_meier(*zip(*presorted, strict=True), presorted=True)
    assert again.survival.tolist() == ours.survival.tolist()


@pytest.mark.parametrize(("seed", "kind", "n", "share"), [c for c in CASES if c[2] >= 7])
def test_the_greenwood_band_agrees_with_lifelines(
    seed: int, kind: str, n: int, share: float
) -> None:
    rng = np.random.default_rng(seed)
    durations, observed = sample(rng, n, kind, share)
    ours = kaplan_meier(durations, observed)
    fitter, *_ = fit_lifelines(durations, observed)
    theirs = fitter.confidence_interval_  # exponential Greenwood, 95%, lifelines' default
    band = ours.band()
    assert band[0] == (0.0, 1.0, 1.0) and len(band) == len(ours.points())
    for t, low, high in band[1:]:
        want_low, want_high = theirs.loc[t].iloc[0], theirs.loc[t].iloc[1]
        if math.isnan(want_low):  # S = 0: lifelines has no interval; ours closes at 0
            assert low == high == 0.0
            continue
        assert low == pytest.approx(want_low, abs=1e-9) and high == pytest.approx(
            want_high, abs=1e-9
        )
        assert 0.0 <= low <= ours.at(t) <= high <= 1.0


def test_the_removal_percentile_ignores_the_censored() -> None:
    ours = kaplan_meier([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 500, 600], [True] * 10 + [False] * 2)
    assert ours.removal_percentile(0.95) == 10 and ours.removal_percentile(0.5) == 5
    assert kaplan_meier([5, 6], [False, False]).removal_percentile(0.95) is None
