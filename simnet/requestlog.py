"""The web server's record of every request it received."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the server received it."""

    time: float
    """Wall-clock arrival time (``time.time()``)."""
    method: str
    target: str
    host: str
    """The Host header without port."""
    client: tuple[str, int]
    address: str
    """The local loopback address the connection was made to."""
    scheme: str
    connection: int
    """Connection serial number: equal for requests sharing a keep-alive connection."""
    site: str | None
    """Name of the site that answered, ``None`` if the request matched none."""
    user_agent: str = ""
    """The User-Agent header, as sent."""

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.partition("?")[0]


class RequestLog:
    """Thread-safe, append-only list of :class:`RequestRecord`, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(
        self, *, site: str | None = None, address: str | None = None
    ) -> list[RequestRecord]:
        """The requests so far, optionally only those for a site or to a local address."""
        with self._lock:
            records = list(self._records)
        return [
            record
            for record in records
            if (site is None or record.site == site)
            and (address is None or record.address == address)
        ]

    def count(self, *, site: str | None = None, address: str | None = None) -> int:
        return len(self.records(site=site, address=address))

    def clear(self) -> None:
        """Forget all records; long benchmark runs may want to."""
        with self._lock:
            self._records.clear()
