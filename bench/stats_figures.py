"""`stats.compute` over 1,000,000 synthetic reports, against lifelines on the same data.

    .venv/bin/python bench/stats_figures.py [--reports N] [--seed S]

Pure computation: no store. The synthetic mix is a hotline's two years: 70% of reports
notified, lognormal removal times (median about a day, long tail), about 20% still
online, 200 networks, 40 countries, 24 months, 5 categories.

The peer is lifelines' KaplanMeierFitter fitting the *overall* time to removal and giving
its median, timed on the same arrays in the same run (its import, ~2 s, is timed apart).
compute() does much more: two origins, overall plus ~270 groups, counts and fractions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stats import Columns, Record, compute, to_csv  # noqa: E402
from stats.survival import kaplan_meier  # noqa: E402

DAY = 86400.0
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
CATEGORIES = ["baseline", "A1", "A2", "B1", "B2"]


def synthetic(n: int, seed: int) -> dict:
    """Parallel columns as a DB cursor would give them: floats/None-as-NaN, lists of labels."""
    rng = np.random.default_rng(seed)
    created = NOW - rng.uniform(0, 730 * DAY, n)
    notified = rng.random(n) < 0.70
    first_notice = np.where(notified, created + rng.lognormal(np.log(3600), 1.0, n), np.nan)
    removal = first_notice + rng.lognormal(np.log(DAY), 1.3, n)
    # Of the notified: ~78% removed, ~19% still online, ~3% unreachable (about 20% of all
    # reports are online, counting the never-notified ones still waiting for a contact).
    fate = rng.random(n)
    is_removed = notified & (fate < 0.78) & (removal < NOW)
    state = np.where(is_removed, "removed", np.where(fate < 0.97, "online", "unreachable"))
    other = rng.random(n)  # the never-notified: queued, first found gone, rejected, closed
    state = np.where(
        notified,
        state,
        np.select(
            [other < 0.20, other < 0.75, other < 0.85, other < 0.90],
            ["online", "removed", "queued", "rejected"],
            "closed",
        ),
    )
    removed_at = np.where(state == "removed", np.where(notified, removal, created + 600), np.nan)
    seen_online = ~((~notified) & (state == "removed")) & (state != "rejected")
    network = np.minimum(rng.zipf(1.3, n), 200) - 1  # a few big hosts, a long tail
    asns = [64500 + i for i in range(200)]
    orgs = [f"Host {i} Ltd" for i in range(199)] + ['=HYPERLINK("http://x","y")']
    countries = [f"C{i:02d}" for i in range(40)]
    return dict(
        created_at=created,
        first_notice_at=first_notice,
        removed_at=removed_at,
        state=state.tolist(),
        seen_online=seen_online,
        reappearances=(rng.random(n) < 0.03).astype(np.int64),
        asn=[asns[i] for i in network],
        org=[orgs[i] for i in network],
        country=[countries[i % 40] for i in (network * 7 + rng.integers(0, 3, n)).tolist()],
        category=[CATEGORIES[i] for i in rng.integers(0, 5, n).tolist()],
    )


def timed(function, *args, repeat: int = 3, **kwargs):
    """The best of ``repeat`` runs, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()

    started = time.perf_counter()
    raw = synthetic(options.reports, options.seed)
    print(f"{options.reports:,} synthetic reports in {time.perf_counter() - started:.2f} s")

    t_columns, columns = timed(lambda: Columns.of(**raw))
    t_compute, figures = timed(compute, columns, NOW, 5)
    t_total = t_columns + t_compute
    print(f"Columns.of (labels to codes)  {t_columns:6.3f} s")
    print(f"compute() on Columns          {t_compute:6.3f} s")
    print(f"lists to figures              {t_total:6.3f} s  (target < 2 s)")
    # The same reports as Record-shaped tuples, as an ORM query would give them.
    fields = [
        raw[name].tolist() if isinstance(raw[name], np.ndarray) else raw[name]
        for name in Record._fields
    ]
    records = list(zip(*fields, strict=True))
    t_records, from_records = timed(compute, records, NOW, 5, repeat=1)
    assert from_records == figures
    print(f"compute() on Record tuples    {t_records:6.3f} s  (transposing to columns costs)")
    t_csv, csv_text = timed(to_csv, figures)
    print(f"to_csv ({csv_text.count(chr(10))} lines)            {t_csv:6.3f} s")

    # The peer fits the overall time-to-removal sample only.
    notified = ~np.isnan(raw["first_notice_at"]) & ~np.isin(raw["state"], ["rejected", "closed"])
    removed = notified & (np.asarray(raw["state"]) == "removed")
    end = np.where(removed, raw["removed_at"], NOW)
    durations = np.maximum(end - raw["first_notice_at"], 0.0)[notified]
    observed = removed[notified]
    started = time.perf_counter()
    from lifelines import KaplanMeierFitter

    print(f"import lifelines              {time.perf_counter() - started:6.3f} s (not in peer)")

    def peer() -> float:
        return KaplanMeierFitter().fit(durations, observed).median_survival_time_

    def ours() -> float | None:
        return kaplan_meier(durations, observed).quantile(0.5)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_peer, peer_median = timed(peer)
    t_ours, our_median = timed(ours)
    print(f"lifelines fit + median        {t_peer:6.3f} s  ({len(durations):,} durations)")
    print(
        f"stats.kaplan_meier + median   {t_ours:6.3f} s  same sample: {t_peer / t_ours:.1f}x "
        "faster than lifelines"
    )
    print(f"full compute() / lifelines overall fit: {t_compute / t_peer:.2f}")
    print(f"medians agree: ours {our_median:.3f} s, lifelines {peer_median:.3f} s")

    overall = {k: v for k, v in figures.items() if not k.startswith("by_")}
    print(json.dumps(overall, indent=1))
    print({k: len(v) for k, v in figures.items() if k.startswith("by_")})


if __name__ == "__main__":
    main()
