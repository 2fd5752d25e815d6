"""Errors of the inbound path."""


class InboundError(Exception):
    """Base class of the inbound path's errors."""


class NotAMessage(InboundError):
    """The input holds no mail message at all (empty, or no header)."""


class MailboxError(InboundError):
    """The IMAP mailbox cannot be reached or used; the message says why."""
