"""The X-ARF classifications a report can carry."""

CATEGORIES = ("baseline", "A1", "A2", "B1", "B2")
