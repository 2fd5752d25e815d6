"""The input contract of `stats`: one record per report, or the same fields as columns.

Records are easy to build from an ORM query; columns are what makes a million reports fast.
``Columns.of`` accepts plain sequences (lists from a DB cursor, tuples) or numpy arrays:
times as floats with ``None``/NaN for "not yet", ``state`` as the state names, and the
labels (asn, org, country, category) as any hashable values, ``None`` meaning unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import NamedTuple

import numpy as np

STATES = ("queued", "online", "unreachable", "removed", "rejected", "closed")
_STATE_CODES = {name: code for code, name in enumerate(STATES)}


def state_codes(names: Sequence[str]) -> np.ndarray:
    """The codes (indexes into STATES) of state names; a clear error for an unknown one."""
    try:
        return np.fromiter(map(_STATE_CODES.__getitem__, names), np.int8, len(names))
    except KeyError as error:
        raise ValueError(f"unknown report state {error.args[0]!r}") from None


class Record(NamedTuple):
    """One report as the statistics see it. Times are epoch seconds."""

    created_at: float
    first_notice_at: float | None
    removed_at: float | None
    state: str
    seen_online: bool
    reappearances: int
    asn: int | None
    org: str | None
    country: str | None
    category: str
    first_response_at: float | None = None  # the provider's first trusted answer
    notices_bounced: int = 0  # notices that bounced, of those this report represents
    notices_answered: int = 0  # notices answered, of those this report represents


class Factor(NamedTuple):
    """A label column as small-integer codes into a list of distinct labels."""

    codes: np.ndarray
    labels: list


class _Codes(dict):
    """Gives each new key the next code; the lookup stays in C for keys already seen."""

    def __missing__(self, key):
        self[key] = code = len(self)
        return code


def factorize(values: Sequence | np.ndarray | Factor) -> Factor:
    """Codes and labels for a label column, in order of first appearance."""
    if isinstance(values, Factor):
        return values
    if isinstance(values, np.ndarray) and values.dtype != object:
        labels, codes = np.unique(values, return_inverse=True)
        return Factor(codes.astype(np.int64), labels.tolist())
    table = _Codes()
    codes = np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))
    return Factor(codes, list(table))


@dataclass(frozen=True)
class Columns:
    """The fields of ``Record``, one array each; build it with ``of`` or ``from_records``."""

    created_at: np.ndarray  # float64
    first_notice_at: np.ndarray  # float64, NaN: never notified
    removed_at: np.ndarray  # float64, NaN: not removed
    state: np.ndarray  # int8 index into STATES
    seen_online: np.ndarray  # bool
    reappearances: np.ndarray  # int64
    asn: Factor
    org: Factor
    country: Factor
    category: Factor
    first_response_at: np.ndarray  # float64, NaN: no answer yet
    # A notice covers several reports; each is counted once, at the lowest id among its
    # counted reports (its representative), so that sums over any group of reports
    # count notices, not reports.
    notices_bounced: np.ndarray  # int64
    notices_answered: np.ndarray  # int64

    @classmethod
    def of(
        cls,
        *,
        created_at,
        first_notice_at,
        removed_at,
        state,
        seen_online,
        reappearances,
        asn,
        org,
        country,
        category,
        first_response_at=None,
        notices_bounced=None,
        notices_answered=None,
    ) -> Columns:
        """Coerce parallel sequences or arrays, one per ``Record`` field; the last three
        may be left out (no answers, no notices counted)."""
        size = len(state)
        if first_response_at is None:
            first_response_at = np.full(size, np.nan)
        if notices_bounced is None:
            notices_bounced = np.zeros(size, dtype=np.int64)
        if notices_answered is None:
            notices_answered = np.zeros(size, dtype=np.int64)
        if isinstance(state, np.ndarray) and state.dtype.kind in "iu":
            codes = state.astype(np.int8)
        else:
            codes = state_codes(state)
        columns = cls(
            # None becomes NaN when numpy converts to float.
            np.asarray(created_at, dtype=np.float64),
            np.asarray(first_notice_at, dtype=np.float64),
            np.asarray(removed_at, dtype=np.float64),
            codes,
            np.asarray(seen_online, dtype=bool),
            np.asarray(reappearances, dtype=np.int64),
            factorize(asn),
            factorize(org),
            factorize(country),
            factorize(category),
            np.asarray(first_response_at, dtype=np.float64),
            np.asarray(notices_bounced, dtype=np.int64),
            np.asarray(notices_answered, dtype=np.int64),
        )
        lengths = {
            len(columns.first_response_at),
            len(columns.notices_bounced),
            len(columns.notices_answered),
            len(columns.created_at),
            len(columns.state),
            len(columns.seen_online),
            len(columns.first_notice_at),
            len(columns.removed_at),
            len(columns.reappearances),
            len(columns.asn.codes),
            len(columns.org.codes),
            len(columns.country.codes),
            len(columns.category.codes),
        }
        if len(lengths) != 1:
            raise ValueError("columns differ in length")
        return columns

    @classmethod
    def from_records(cls, records: Iterable[Record | tuple]) -> Columns:
        """Columns from ``Record``s or tuples in ``Record``'s field order."""
        records = records if isinstance(records, list | tuple) else list(records)
        # One C-level pass per field; zip(*records) is three times slower on a million.
        return cls.of(
            **{name: list(map(itemgetter(i), records)) for i, name in enumerate(Record._fields)}
        )

    def take(self, rows: np.ndarray) -> Columns:
        """The reports at ``rows``; label lists are kept whole (codes still index them)."""
        return Columns(
            *(
                Factor(value.codes[rows], value.labels)
                if isinstance(value, Factor)
                else value[rows]
                for value in (getattr(self, f.name) for f in fields(self))
            )
        )
