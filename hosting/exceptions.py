"""Errors of the hosting look-ups (RDAP, bootstrap), for callers to tell apart."""

from __future__ import annotations


class HostingError(Exception):
    """Who hosts a URL could not be worked out."""


class RdapError(HostingError):
    """An RDAP request failed: ``status`` is the HTTP status, or None when none came
    (timeout, connection failure, or no RDAP server known for the query)."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class RdapNotFound(RdapError):
    """The RDAP server has no such object (404): an answer, not a failure to retry."""
