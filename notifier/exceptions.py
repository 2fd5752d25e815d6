"""Errors of the notifier."""


class NotifierError(Exception):
    """Base class of the notifier's errors."""


class MissingIdentity(NotifierError):
    """The hotline's identity settings are missing: no notice may go out."""


class TransportDown(NotifierError):
    """The mail server cannot be reached: every notice waits for the next pass."""


class Deferred(NotifierError):
    """The mail server deferred this notice (4xx): it is tried again later."""


class Bounced(NotifierError):
    """The recipient's mailbox refused the notice for good (5xx)."""
