"""The outcome of a fetch that gave no response: `nxdomain`, `blocked` or `error`."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from twisted.internet import error as tx_error

from crawler.resolver import Verdict
from hosting.dns import Failure
from store.lifecycle import BLOCKED, ERROR, NXDOMAIN

_REASONS = (
    ((DownloadTimeoutError, tx_error.TimeoutError), "timed out"),
    ((DownloadConnectionRefusedError, tx_error.ConnectionRefusedError), "connection refused"),
    (
        (DownloadFailedError, tx_error.ConnectionLost, tx_error.ConnectionDone),
        "connection reset or lost",
    ),
)
_DNS_REASONS = {
    Failure.NO_ANSWER: "the name has no address",
    Failure.SERVFAIL: "DNS failed (SERVFAIL)",
    Failure.TIMEOUT: "DNS timed out",
}


def outcome_of_failure(exception: BaseException, verdict: Verdict | None) -> tuple[str, str]:
    """Map an exception from the download, with the resolver's verdict, to an outcome."""
    if isinstance(exception, CannotResolveHostError | tx_error.DNSLookupError):
        if verdict is None:
            return ERROR, "the name could not be resolved"
        if verdict.blocked:
            return BLOCKED, f"refused by the safety policy: {verdict.blocked}"
        if verdict.failure is Failure.NXDOMAIN:
            return NXDOMAIN, "the name does not exist"
        return ERROR, _DNS_REASONS.get(verdict.failure, "the name could not be resolved")
    if isinstance(exception, IgnoreRequest) and "redirect" in str(exception):
        return ERROR, "too many redirects, or a redirect loop"
    for kinds, reason in _REASONS:
        if isinstance(exception, kinds):
            return ERROR, reason
    name = type(exception).__name__
    if "SSL" in name or "TLS" in name or "Certificate" in name:
        return ERROR, "TLS handshake failed"
    return ERROR, name
