"""The contact chain: which address to notify about a network, from its RDAP documents.

1. The entity with the ``abuse`` role, wherever it is nested. RIPE puts it at the top
   level with several emails, ARIN under the registrant organisation, APNIC as an
   ``IRT-…`` entity, LACNIC as one entity holding every role.
2. Else the network's or organisation's own email: the technical (or NOC), registrant,
   then administrative role; then entities without roles that are organisations, since
   AFRINIC gives no roles at all.
3. Else the upstream (parent) network's contact, found by :func:`walk_up`.

An entity with one of those roles but no email in the document is fetched as
``/entity/{handle}`` (:func:`follow_entities`). Within an entity an ``abuse…@`` address
wins, else the first; every other address is kept in ``fallback_emails``, in chain order.
Documents are parsed with ipwhois's parse classes; the nesting is walked here, since
ipwhois flattens it.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ipwhois.rdap import _RDAPEntity, _RDAPNetwork

from hosting.exceptions import RdapNotFound

if TYPE_CHECKING:
    from hosting.rdap import RdapClient

logger = logging.getLogger(__name__)
Fetch = Callable[[str], Awaitable[dict]]

# Role ranks, best first; entities with other roles (registrar, reseller…) only add fallbacks.
ROLE_RANK = {"abuse": 0, "technical": 1, "noc": 1, "registrant": 2, "administrative": 3}
ORGANISATION_RANK = 4  # no role, but a vCard of kind "org" (AFRINIC)
OTHER_RANK = 5

# Addresses found in registry data that reach no one able to act on a network's content.
PLACEHOLDER_ADDRESSES = {
    # LACNIC's own desk, returned for LACNIC space by contact databases that lack the
    # holder's; LACNIC replies it cannot act on others' networks (fail2ban issue #2920).
    "abuse@lacnic.net",
    # What the RIPE database writes in place of every e-mail attribute of a dummified
    # (personal-data-filtered) object (RIPE-NCC/whois, DUMMIFICATION_REPLACEMENTS).
    "unread@ripe.net",
}
# RFC 2606 and RFC 6761 names reserved for documentation; never a real mailbox.
PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
PLACEHOLDER_TLDS = ("example", "invalid", "localhost")


@dataclass(frozen=True)
class NetworkInfo:
    """What one ``/ip/`` document says about a network and whom to notify."""

    handle: str | None
    cidr: str | None  # one CIDR containing the address looked up
    name: str | None
    org: str | None
    country: str | None  # ISO 3166 alpha-2; ARIN omits it
    parent_handle: str | None
    parent_query: str | None  # what to ask /ip/ for the parent: its "up" link, or our supernet
    abuse_email: str | None
    abuse_source: str | None  # e.g. "rdap:entity ZG39-ARIN abuse"
    fallback_emails: tuple[str, ...] = ()
    follow: tuple[str, ...] = ()  # handles of entities to fetch for a better contact


@dataclass(frozen=True)
class _Candidate:
    handle: str
    role: str
    rank: int
    depth: int
    kind: str | None
    name: str | None
    emails: tuple[str, ...]


def network_info(doc: dict, address: str | None = None) -> NetworkInfo:
    """Parse an ``/ip/`` document; ``address`` picks which of its CIDRs to report."""
    net = _RDAPNetwork(doc)
    try:
        net.parse()
    except Exception as error:  # a quirk of one registry must not lose its contacts
        logger.debug("ipwhois could not parse network %s: %s", doc.get("handle"), error)
    found = net.vars
    cidr = _containing(_cidrs(found.get("cidr"), doc), address)
    candidates = _candidates(doc)
    chosen = next((c for c in candidates if c.emails and c.rank <= ORGANISATION_RANK), None)
    abuse = _pick(chosen.emails) if chosen else None
    emails = [e for c in candidates for e in c.emails]
    best = chosen.rank if chosen else OTHER_RANK
    orgs = [c for c in candidates if c.role == "registrant" or c.rank == ORGANISATION_RANK]
    country = found.get("country") or doc.get("country")
    return NetworkInfo(
        handle=found.get("handle") or doc.get("handle"),
        cidr=cidr,
        name=found.get("name") or doc.get("name"),
        org=next((c.name for c in sorted(orgs, key=lambda c: c.kind != "org") if c.name), None),
        country=country.upper() if isinstance(country, str) and country else None,
        parent_handle=found.get("parent_handle") or doc.get("parentHandle"),
        parent_query=_parent_query(doc, cidr),
        abuse_email=abuse,
        abuse_source=f"rdap:entity {chosen.handle} {chosen.role}" if chosen else None,
        fallback_emails=_unique(emails, besides=abuse),
        follow=tuple(
            dict.fromkeys(
                c.handle for c in candidates if not c.emails and c.rank < min(best, OTHER_RANK - 1)
            )
        ),
    )


async def follow_entities(doc: dict, fetch_entity: Fetch, *, limit: int = 4) -> dict:
    """``doc`` with contact details of its email-less entities fetched in (a copy).

    Only entities that could beat the contact already found are fetched, ``limit`` at most;
    an entity the server does not know is skipped.
    """
    fetched: dict[str, dict] = {}
    for handle in network_info(doc).follow[:limit]:
        try:
            fetched[handle] = await fetch_entity(handle)
        except RdapNotFound:
            continue
    if not fetched:
        return doc
    doc = copy.deepcopy(doc)
    for entity, _ in _walk(doc.get("entities")):
        more = fetched.get(entity.get("handle"))
        if more is not None and "vcardArray" not in entity:
            entity["vcardArray"] = more.get("vcardArray")
            # ARIN's organisation documents carry their POCs, the abuse one included.
            if not entity.get("entities") and more.get("entities"):
                entity["entities"] = more["entities"]
    return doc


async def walk_up(
    info: NetworkInfo, fetch_ip: Fetch, *, fetch_entity: Fetch | None = None, levels: int = 2
) -> NetworkInfo:
    """``info`` with the contact of its closest ancestor network that has one.

    Asks ``fetch_ip`` for at most ``levels`` parents, following each ``parent_query``;
    stops where there is none, on a 404, or on a loop.
    """
    current, fallbacks, seen = info, list(info.fallback_emails), {info.handle or info.cidr}
    for _ in range(levels):
        if not current.parent_query:
            break
        try:
            doc = await fetch_ip(current.parent_query)
        except RdapNotFound:
            break
        if fetch_entity is not None:
            doc = await follow_entities(doc, fetch_entity)
        parent = network_info(doc, current.parent_query)
        if (parent.handle or parent.cidr) in seen:
            break
        seen.add(parent.handle or parent.cidr)
        if parent.abuse_email:
            source = f"rdap:parent {parent.handle} {parent.abuse_source.removeprefix('rdap:')}"
            fallbacks += parent.fallback_emails
            return replace(
                info,
                abuse_email=parent.abuse_email,
                abuse_source=source,
                fallback_emails=_unique(fallbacks, besides=parent.abuse_email),
            )
        fallbacks += parent.fallback_emails
        current = parent
    return replace(info, fallback_emails=_unique(fallbacks))


async def network_contacts(address: str, client: RdapClient, *, levels: int = 2) -> NetworkInfo:
    """The whole chain for ``address`` with an :class:`~hosting.rdap.RdapClient`."""

    async def entity(handle: str) -> dict:
        return await client.entity(handle, near=address)

    doc = await follow_entities(await client.ip(address), entity)
    info = network_info(doc, address)
    if info.abuse_email is None:
        info = await walk_up(info, client.ip, fetch_entity=entity, levels=levels)
    return info


def clean_email(value: object) -> str | None:
    """A usable address with its domain lower-cased, or None (malformed or placeholder)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    text = text[7:] if text.lower().startswith("mailto:") else text
    local, at, domain = text.rpartition("@")
    domain = domain.lower().rstrip(".")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in text):
        return None
    address = f"{local}@{domain}"
    return None if is_placeholder(address) else address


def is_placeholder(address: str) -> bool:
    domain = address.rpartition("@")[2].lower()
    return (
        address.lower() in PLACEHOLDER_ADDRESSES
        or domain in PLACEHOLDER_DOMAINS
        or domain.endswith(tuple("." + d for d in PLACEHOLDER_DOMAINS))
        or domain.rpartition(".")[2] in PLACEHOLDER_TLDS
    )


def _unique(emails, *, besides: str | None = None) -> tuple[str, ...]:
    """Each address once (but not ``besides``), compared case-insensitively, in order."""
    seen, unique = {(besides or "").lower()}, []
    for email in emails:
        if email.lower() not in seen:
            seen.add(email.lower())
            unique.append(email)
    return tuple(unique)


def _pick(emails: tuple[str, ...]) -> str:
    return next((e for e in emails if e.lower().startswith("abuse")), emails[0])


def _walk(entities, depth: int = 0):
    for entity in entities if isinstance(entities, list) else ():
        if isinstance(entity, dict):
            yield entity, depth
            yield from _walk(entity.get("entities"), depth + 1)


def _candidates(doc: dict) -> list[_Candidate]:
    """Every entity with a handle, best first: by role, then the shallower, then in order."""
    found = []
    for entity, depth in _walk(doc.get("entities")):
        parsed = _RDAPEntity(entity)
        try:
            parsed.parse()
        except Exception as error:  # no handle, or a vCard ipwhois cannot read
            logger.debug("skipping RDAP entity %s: %s", entity.get("handle"), error)
            continue
        contact = parsed.vars.get("contact") or {}
        roles = [r for r in parsed.vars.get("roles") or [] if isinstance(r, str)]
        kind = contact.get("kind")
        ranked = sorted((ROLE_RANK[r], r) for r in roles if r in ROLE_RANK)
        rank, role = (
            ranked[0]
            if ranked
            else (
                (ORGANISATION_RANK, "org") if not roles and kind == "org" else (OTHER_RANK, "other")
            )
        )
        emails = (clean_email(e.get("value")) for e in contact.get("email") or [])
        emails = _unique(e for e in emails if e)
        found.append(
            _Candidate(parsed.vars["handle"], role, rank, depth, kind, contact.get("name"), emails)
        )
    return sorted(found, key=lambda c: (c.rank, c.depth))


def _cidrs(parsed: str | None, doc: dict) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The document's CIDRs: ipwhois's (comma-separated), else from its address range."""
    if parsed:
        return [_network(text) for text in parsed.split(",") if text.strip()]
    try:
        first, last = (_address(doc[key]) for key in ("startAddress", "endAddress"))
        return list(ipaddress.summarize_address_range(first, last))
    except (KeyError, TypeError, ValueError):
        return []


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = text.strip().partition("/")[0]  # RIPE once wrote "2a00:2381:ffff::/128"
    if "." in text and ":" not in text:  # ARIN pads octets: 074.125.000.000
        text = ".".join(str(int(octet)) for octet in text.split("."))
    return ipaddress.ip_address(text)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    address, slash, length = text.strip().partition("/")
    ip = _address(address)
    return ipaddress.ip_network(f"{ip}/{length}" if slash else ip, strict=False)


def _containing(cidrs, address: str | None) -> str | None:
    if not cidrs:
        return None
    if address:
        point = ipaddress.ip_network(address, strict=False).network_address
        for net in cidrs:
            if net.version == point.version and point in net:
                return str(net)
    return str(cidrs[0])


def _parent_query(doc: dict, cidr: str | None) -> str | None:
    """The parent's ``up`` link, as a query under our own base URL, else our supernet."""
    for link in doc.get("links") or ():
        if isinstance(link, dict) and link.get("rel") == "up":
            _, found, tail = urlsplit(str(link.get("href", ""))).path.rpartition("/ip/")
            if found and tail:
                return unquote(tail)
    if cidr:
        net = ipaddress.ip_network(cidr)
        if net.prefixlen:
            # The most specific network enclosing our supernet is our parent (RFC 9082).
            return str(net.supernet())
    return None
