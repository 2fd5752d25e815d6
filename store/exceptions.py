"""Errors of the store."""


class StoreError(Exception):
    """Base class of the store's errors."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class NotFound(StoreError):
    """A named report does not exist."""
