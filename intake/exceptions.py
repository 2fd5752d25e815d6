"""Errors of intake."""


class IntakeError(Exception):
    """Base class of intake's errors."""


class RejectedInput(IntakeError):
    """An input that cannot be tracked; the message says why, for the person who gave it."""
