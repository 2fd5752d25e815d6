"""Time-to-removal statistics: Kaplan–Meier figures, breakdowns, chart curves and CSV.

    from stats import Record, Columns, compute, curve, to_csv
    figures = compute(records_or_columns, now=time.time(), min_group=settings.MIN_GROUP)

numpy only; lifelines is a test-time reference, never imported here (it takes ~2 s).
"""

from stats.columns import STATES, Columns, Record
from stats.export import to_csv
from stats.figures import compute, curve
from stats.survival import Survival, kaplan_meier

__all__ = ["STATES", "Columns", "Record", "Survival", "compute", "curve", "kaplan_meier", "to_csv"]
