"""RDAP over HTTP, politely: every request under RDAP_URL, or at each registry's own server.

ipwhois is only a parser here (see hosting/contacts.py): it would make requests of its
own, to ARIN and over port 43, and sleep two minutes on a rate limit. This client makes
them instead: ``{base}/ip/{address-or-prefix}``, ``{base}/entity/{handle}`` and
``{base}/domain/{name}``, with a per-server rate limit, bounded retries and timeouts.
Without RDAP_URL the base comes from IANA's bootstrap files (RFC 9224) in hosting/data/.
"""

from __future__ import annotations

import asyncio
import copy
import email.utils
import functools
import ipaddress
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from hosting.exceptions import RdapError, RdapNotFound
from settings import Settings

if TYPE_CHECKING:
    import aiohttp

DATA = Path(__file__).with_name("data")
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # real answers are a few kB; a cap bounds a bad server
MAX_CACHED = 10_000
ACCEPT = "application/rdap+json, application/json;q=0.9"
_TABLES = ("ipv4", "ipv6", "dns")


class Bootstrap:
    """IANA's RDAP bootstrap tables (ipv4.json, ipv6.json, dns.json) mapped to base URLs."""

    def __init__(self, ipv4: dict, ipv6: dict, dns: dict) -> None:
        self._networks = [
            (ipaddress.ip_network(entry), _base(urls))
            for table in (ipv4, ipv6)
            for entries, urls in table["services"]
            for entry in entries
        ]
        self._zones = {z.lower(): _base(urls) for zones, urls in dns["services"] for z in zones}

    @classmethod
    @functools.cache
    def load(cls, directory: Path = DATA) -> Bootstrap:
        tables = [json.loads((directory / f"{n}.json").read_text("utf-8")) for n in _TABLES]
        return cls(*tables)

    def ip_server(self, query: str) -> str | None:
        """The base URL for an address or prefix: the longest matching entry wins."""
        net = ipaddress.ip_network(query, strict=False)
        matches = [
            (n.prefixlen, url)
            for n, url in self._networks
            if n.version == net.version and net.subnet_of(n)
        ]
        return max(matches)[1] if matches else None

    def domain_server(self, name: str) -> str | None:
        """The base URL for a domain name: its longest suffix listed wins."""
        labels = _ascii_name(name).split(".")
        for i in range(len(labels)):
            if (url := self._zones.get(".".join(labels[i:]))) is not None:
                return url
        return None


def _base(urls: list[str]) -> str:
    # Prefer HTTPS where a registry lists both; a base never ends in "/" (as RDAP_URL).
    return sorted(urls, key=lambda u: not u.startswith("https:"))[0].rstrip("/")


def _ascii_name(name: str) -> str:
    return name.strip().rstrip(".").encode("idna").decode("ascii").lower()


class RdapClient:
    """Fetches RDAP documents (as dicts) for one asyncio loop; use ``async with``.

    Settings read: RDAP_URL (one server for everything; empty means the registries' own,
    found in the bootstrap data), RDAP_RATE (requests per second to each server, spaced
    evenly), RDAP_CACHE_TTL (answers are reused for that long, by URL) and FETCH_TIMEOUT
    (per request; a timeout is not retried). A 429 is retried after its Retry-After, and
    a 5xx or a dropped connection after ``retry_delay`` doubling, ``retries`` times at
    most, no wait above ``max_wait``; a server asking for a longer wait fails at once.
    Concurrent requests for one URL share one request. ``requests_made`` counts requests.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retries: int = 3,
        max_wait: float = 60.0,
        retry_delay: float = 1.0,
        bootstrap: Bootstrap | None = None,
        user_agent: str | None = None,
    ) -> None:
        self.settings = settings
        self.retries, self.max_wait, self.retry_delay = retries, max_wait, retry_delay
        self.requests_made = 0
        self._bootstrap = bootstrap
        self._user_agent = user_agent or settings.effective_user_agent(_version())
        self._interval = 1.0 / settings.rdap_rate
        self._next_slot: dict[str, float] = {}
        self._blocked_until: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task] = {}
        self._cache: dict[str, tuple[float, dict]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._client_loaded: asyncio.Future | None = None

    async def __aenter__(self) -> RdapClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._inflight.values():
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # The three look-ups.

    async def ip(self, query: str) -> dict:
        """The network of an address, or the one enclosing a prefix (``192.0.2.0/24``)."""
        parse = functools.partial(ipaddress.ip_network, strict=False)
        text = str(parse(query) if "/" in query else ipaddress.ip_address(query))
        return await self.get(f"{self.base_for('ip', text)}/ip/{quote(text, safe=':/')}")

    async def entity(self, handle: str, *, near: str | None = None) -> dict:
        """An entity; without RDAP_URL it is asked of the registry serving address ``near``."""
        base = self.base_for("ip", near) if near else self.base_for("entity", handle)
        return await self.get(f"{base}/entity/{quote(handle, safe='')}")

    async def domain(self, name: str) -> dict:
        ldh = _ascii_name(name)
        return await self.get(f"{self.base_for('domain', ldh)}/domain/{quote(ldh, safe='')}")

    def base_for(self, kind: str, key: str) -> str:
        """RDAP_URL, else the bootstrap data's server for ``key`` (an ip or domain)."""
        if self.settings.rdap_url:
            return self.settings.rdap_url
        bootstrap = self._bootstrap = self._bootstrap or Bootstrap.load()
        base = None
        if kind == "ip":
            base = bootstrap.ip_server(key)
        elif kind == "domain":
            base = bootstrap.domain_server(key)
        if base is None:
            raise RdapError(f"no RDAP server known for {kind} {key!r} (set RDAP_URL?)")
        return base

    # One URL: cache, then coalescing, then the request itself.

    async def get(self, url: str) -> dict:
        """The document at ``url``; a copy, so callers may change it."""
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return copy.deepcopy(cached[1])
        task = self._inflight.get(url)
        if task is None:
            task = asyncio.ensure_future(self._fetch(url))
            self._inflight[url] = task
            task.add_done_callback(functools.partial(self._finished, url))
        # shield: one waiter giving up must not cancel the request the others share.
        return copy.deepcopy(await asyncio.shield(task))

    def _finished(self, url: str, task: asyncio.Task) -> None:
        if self._inflight.get(url) is task:
            del self._inflight[url]
        if task.cancelled() or task.exception() is not None:
            return
        ttl = self.settings.rdap_cache_ttl.total_seconds()
        if ttl > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = (time.monotonic() + ttl, task.result())

    async def _fetch(self, url: str) -> dict:
        # aiohttp is imported at the first request, not with this module: a quarter of a
        # second of every `ntd check`, which asks nothing while every network is cached.
        # And on a thread: on the loop, its import (0.1 s, half of it loading the system's
        # certificates into a TLS context) held the answers of every fetch in flight.
        loading = self._client_loaded
        if loading is None or (
            loading.done() and (loading.cancelled() or loading.exception() is not None)
        ):
            loading = self._client_loaded = asyncio.ensure_future(asyncio.to_thread(_import_client))
        await asyncio.shield(loading)  # a request cancelled while it loads leaves it loading
        import aiohttp
        import yarl

        server = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        timeout = self.settings.fetch_timeout.total_seconds()
        for attempt in range(self.retries + 1):
            await self._take_slot(server, url)
            self.requests_made += 1
            try:
                async with self._open().get(
                    yarl.URL(url, encoded=True), timeout=aiohttp.ClientTimeout(total=timeout)
                ) as response:
                    if response.status == 200:
                        return await _document(response, url)
                    status, retry_after = response.status, response.headers.get("Retry-After")
            except TimeoutError:
                raise RdapError(f"{url}: no answer within {timeout:g}s", url=url) from None
            except aiohttp.ClientError as error:
                status, retry_after, reason = None, None, f"{type(error).__name__}: {error}"
            else:
                reason = f"answered {status}"
            if status == 404:
                raise RdapNotFound(f"{url}: not found", url=url, status=404)
            if status is not None and status != 429 and status < 500:
                raise RdapError(f"{url}: {reason}", url=url, status=status)
            wait = _retry_after(retry_after)
            if wait is None:
                wait = min(self.retry_delay * 2**attempt, self.max_wait)
            elif wait > self.max_wait:
                self._blocked_until[server] = time.monotonic() + wait
                raise RdapError(f"{url}: {reason}, retry after {wait:g}s", url=url, status=status)
            if attempt < self.retries:
                self._next_slot[server] = max(
                    self._next_slot.get(server, 0.0), time.monotonic() + wait
                )
        raise RdapError(f"{url}: {reason}, {self.retries + 1} attempts", url=url, status=status)

    async def _take_slot(self, server: str, url: str) -> None:
        """Wait for this server's next free slot, 1/RDAP_RATE after the one before."""
        now = time.monotonic()
        blocked = self._blocked_until.get(server, 0.0) - now
        if blocked > 0:
            raise RdapError(
                f"{url}: {server} asked us to wait {blocked:.0f}s more", url=url, status=429
            )
        slot = max(now, self._next_slot.get(server, now))
        self._next_slot[server] = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Accept": ACCEPT, "User-Agent": self._user_agent}, trust_env=False
            )
        return self._session


def _import_client() -> None:
    import aiohttp  # noqa: F401
    import yarl  # noqa: F401


async def _document(response: aiohttp.ClientResponse, url: str) -> dict:
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise RdapError(f"{url}: answer larger than {MAX_DOCUMENT_BYTES} bytes", url=url)
    try:
        doc = json.loads(body)
    except ValueError:
        raise RdapError(f"{url}: answer is not JSON", url=url, status=200) from None
    if not isinstance(doc, dict):
        raise RdapError(f"{url}: answer is not a JSON object", url=url, status=200)
    return doc


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from delta-seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ntd")
    except PackageNotFoundError:
        return "dev"
