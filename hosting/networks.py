"""RDAP facts per network and per registered domain, cached in the store.

Network answers are kept per BGP prefix (Team Cymru's) for RDAP_CACHE_TTL, and one
look-up per prefix is in flight at a time: the thousandth report on a network costs no
request. Without a Cymru answer the address itself is the key. Registrars are kept per
registered domain the same way.

Workers sharing the store share their look-ups too (store/lookups.py): a worker asks
about a key only under its lease, and a worker that finds the lease taken waits for the
answer in the cache. Each worker has one look-up at a time per RDAP server (RDAP_RATE
spaces them anyway), so the next key goes to whichever worker's turn comes first, and
N workers ask a set of networks about N times as fast, each network once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import timedelta

from hosting.contacts import clean_email, network_contacts
from hosting.cymru import Origin
from hosting.exceptions import HostingError, RdapNotFound
from hosting.rdap import RdapClient
from settings import Settings
from store import lookups
from store.db import Store
from store.models import NetworkCache
from store.queue import worker_name
from store.types import utcnow
from store.writes import upsert

logger = logging.getLogger(__name__)


class NetworkLookup:
    """``network(ip, origin)`` and ``registrar(domain)``, cached and single-flight.

    Reads RDAP_URL, RDAP_RATE and RDAP_CACHE_TTL (through ``RdapClient`` and here).
    """

    def __init__(self, store: Store, settings: Settings, dns=None, **client_options) -> None:
        self.store = store
        self.ttl = settings.rdap_cache_ttl
        self.cache_hits = 0  # answers found in the store, asked of no RDAP server
        self.client = RdapClient(settings, **client_options)
        self._inflight: dict[str, asyncio.Future] = {}
        self.worker = worker_name()
        # Waiting workers look at the cache this often (seconds); a lease is renewed while
        # its look-up runs, so it can be short: a killed worker holds others up briefly.
        self.poll = min(max(0.5 / settings.rdap_rate, 0.05), 0.5)
        self.lease = timedelta(seconds=10 * self.poll)
        self._turns: dict[str, asyncio.Semaphore] = {}  # one look-up at a time per server

    async def __aenter__(self) -> NetworkLookup:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel the look-ups still in flight, then close the RDAP client."""
        pending = list(self._inflight.values())
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.client.close()

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    async def network(self, ip: str, origin: Origin | None) -> dict | None:
        """What RDAP says of the network announcing ``ip``, or None when it cannot say."""
        key = origin.prefix if origin else f"ip:{ip}"
        return await self._single_flight(key, ("ip", ip), lambda: self._network(ip, key, origin))

    async def registrar(self, domain: str) -> dict | None:
        """The registrar of ``domain`` and its abuse address, from domain RDAP."""
        key = f"domain:{domain}"
        make = lambda: self._registrar(domain, key)  # noqa: E731
        return await self._single_flight(key, ("domain", domain), make)

    async def _single_flight(self, key: str, server: tuple[str, str], make) -> dict | None:
        if key not in self._inflight:
            self._inflight[key] = asyncio.ensure_future(self._cached_or(key, make, server))
        return await self._inflight[key]

    async def _cached_or(self, key: str, make, server: tuple[str, str]) -> dict | None:
        """The cached answer for ``key``; or ``make()``'s, asked under the key's lease; or
        the answer of the worker holding the lease, once it is in the cache."""
        turn = self._turns.setdefault(self._server(*server), asyncio.Semaphore(1))
        first = True
        while True:
            found = self._cached(key)
            if found is not None:
                self.cache_hits += first  # answered by the store, no request made
                return found
            first = False
            async with turn:
                if self._take(key):
                    renewing = asyncio.ensure_future(self._renew(key))
                    try:
                        return await self._ask(key, make)
                    finally:
                        renewing.cancel()
                        self._give_back(key)
            await asyncio.sleep(self.poll)  # another worker is asking: wait for its answer

    async def _renew(self, key: str) -> None:
        """Keep the lease on ``key`` while its look-up runs (cancelled when it ends)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                with self.store.session() as session:
                    lookups.renew(session, key, self.worker, until=utcnow() + self.lease)
            except Exception as error:  # the look-up goes on; at worst another asks too
                logger.warning("renewing the RDAP lease on %s: %s", key, error)

    def _server(self, kind: str, query: str) -> str:
        try:
            return self.client.base_for(kind, query)
        except HostingError:
            return ""  # no server to ask: the look-up fails at once, whichever turn it has

    def _cached(self, key: str) -> dict | None:
        with self.store.session() as session:
            row = session.get(NetworkCache, key)
            if row is not None and row.fetched_at > utcnow() - self.ttl:
                return row.data
        return None

    def _take(self, key: str) -> bool:
        """The key's lease, unless another worker holds it or has just answered."""
        with self.store.session() as session:
            if not lookups.take(session, key, self.worker, now=utcnow(), ttl=self.lease):
                return False
        if self._cached(key) is not None:  # answered between our look and our lease
            self._give_back(key)
            return False
        return True

    def _give_back(self, key: str) -> None:
        with self.store.session() as session:
            lookups.give_back(session, key, self.worker)

    async def _ask(self, key: str, make) -> dict | None:
        try:
            data = await make()
        except RdapNotFound as error:  # an answer: the registry has no such object
            logger.info("RDAP for %s: %s", key, error)
            return None
        except HostingError as error:
            logger.warning("RDAP for %s: %s", key, error)
            return None
        if data is not None:
            with self.store.session() as session:
                # An upsert: another worker may have just cached the same prefix.
                upsert(
                    session,
                    NetworkCache,
                    [{"prefix": key, "fetched_at": utcnow(), "data": data, "asn": data.get("asn")}],
                )
        return data

    async def _network(self, ip: str, key: str, origin: Origin | None) -> dict:
        info = await network_contacts(ip, self.client)
        handle = info.handle or info.cidr
        data = {
            "asn": origin.asn if origin else None,
            "network": info.cidr,
            "org": info.org or info.name,
            "country": info.country,
            "abuse_email": info.abuse_email,
            "fallback_emails": list(info.fallback_emails),
            "sources": {
                "network": f"rdap: network {handle}",
                "org": f"rdap: network {handle}",
                "country": f"rdap: network {handle}",
                "abuse_email": info.abuse_source or "rdap",
            },
            "rdap": asdict(info),
        }
        # The parent network is asked only when this one has no contact (walk_up):
        # an eager look-up for escalation would double the cost per network.
        return data

    async def _registrar(self, domain: str, key: str) -> dict | None:
        doc = await self.client.domain(domain)
        for entity in doc.get("entities") or ():
            if "registrar" not in (entity.get("roles") or ()):
                continue
            name = _vcard(entity, "fn") or entity.get("handle")
            abuse = None
            for inner in entity.get("entities") or ():
                if "abuse" in (inner.get("roles") or ()):
                    abuse = clean_email(_vcard(inner, "email"))
            return {"name": name, "abuse_email": abuse}
        return None


def _vcard(entity: dict, field: str) -> str | None:
    card = entity.get("vcardArray")
    if not card or len(card) < 2:
        return None
    for item in card[1]:
        if item and item[0] == field and len(item) > 3 and isinstance(item[3], str):
            return item[3]
    return None


__all__ = ["NetworkLookup"]
