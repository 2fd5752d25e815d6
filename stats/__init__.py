"""Time-to-removal statistics: Kaplan–Meier figures, breakdowns, chart curves and CSV.

    from stats import Record, Columns, compute, curve, to_csv
    figures = compute(records_or_columns, now=time.time(), min_group=settings.MIN_GROUP)

numpy only; lifelines is a test-time reference, never imported here (it takes ~2 s).
The names below load on first use: every command imports `ntd stats`'s formatting
(stats.units), and none but the statistics should pay for numpy.
"""

from importlib import import_module

_WHERE = {
    "STATES": "stats.columns",
    "Columns": "stats.columns",
    "Record": "stats.columns",
    "to_csv": "stats.export",
    "compute": "stats.figures",
    "curve": "stats.figures",
    "fit": "stats.figures",
    "prepare": "stats.figures",
    "ranking": "stats.figures",
    "Survival": "stats.survival",
    "kaplan_meier": "stats.survival",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'stats' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
