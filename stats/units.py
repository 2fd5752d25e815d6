"""How the figures read to people: durations and shares, on a terminal or a page."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """``45 s``, ``12 min``, ``5.5 h`` or ``3.2 d``; a dash where there is no figure."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def share(fraction: float | None) -> str:
    """A fraction as a whole percentage; a dash where there is no figure."""
    return "—" if fraction is None else f"{fraction:.0%}"
