"""Errors of the store."""


class StoreError(Exception):
    """Base class of the store's errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class NotFound(StoreError):
    """A named report does not exist."""


def first_line(error: Exception, *, named: bool = False) -> str:
    """An error told in one line (drivers' messages run to several), with its type's
    name in front when ``named``; the type's name alone when it says nothing."""
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0]}" if named else lines[0]
