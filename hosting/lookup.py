"""One address and host through the look-up chain: our DNS for names and CNAMEs, Team
Cymru for the origin AS and prefix, RDAP for the network's abuse desk and the domain's
registrar, the CDN table for an origin hidden behind one; then staff's own contacts,
which win over all of it.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
from urllib.parse import urlsplit

from hosting.cdns import find_cdn
from hosting.cymru import Origin, describe_asn, lookup_origin
from hosting.dns import resolve_addresses
from hosting.domains import registered_domain
from hosting.networks import NetworkLookup
from store.contacts import override_among


async def look_up(url: str, ip: str, dns_lookup, networks: NetworkLookup) -> dict:
    """The hosting fields of ``url`` reached at ``ip``, each with its source.

    ``dns_lookup(key, ask)`` runs ``ask(resolver)`` once per key for the whole run;
    ``networks`` answers each network's and registered domain's RDAP questions once.
    """
    host = urlsplit(url).hostname or ""
    domain = registered_domain(host)
    sources: dict[str, str] = {"ip": "crawler: the address connected to"}
    details: dict = {}
    fields: dict = {
        "ip": ip,
        "registered_domain": domain,
        "sources": sources,
        "details": details,
    }
    if domain != host.strip("[]"):
        sources["registered_domain"] = "tldextract: bundled public suffix list"
        names = await dns_lookup(("names", host), lambda dns: resolve_addresses(dns, host))
        details["cnames"] = list(names.cnames)

    origin = await dns_lookup(("origin", ip), lambda dns: lookup_origin(dns, ip))
    if isinstance(origin, Origin):
        asn = origin.asn
        description = await dns_lookup(("asn", asn), lambda dns: describe_asn(dns, asn))
        origin = dataclasses.replace(origin, description=description)
        fields["asn"], sources["asn"] = origin.asn, "cymru: origin"
        details["prefix"], details["cymru_country"] = origin.prefix, origin.country
        fields["org"], sources["org"] = origin.description, "cymru: AS description"
        fields["country"], sources["country"] = origin.country, "cymru: registry country"
        fields["network"], sources["network"] = origin.prefix, "cymru: BGP prefix"
    else:
        details["cymru"] = origin.value

    network = await networks.network(ip, origin if isinstance(origin, Origin) else None)
    if network is not None:
        for name in ("network", "org", "country", "abuse_email"):
            value = network.get(name)
            if name == "network" and value and not _contains(value, ip):
                continue  # cached for the prefix from another address's smaller range
            if value:
                fields[name] = value
                sources[name] = network["sources"].get(name, "rdap")
        details["fallback_emails"] = network.get("fallback_emails", [])

    cdn = find_cdn(fields.get("asn"), tuple(details.get("cnames", ())))
    if cdn is not None:
        fields["cdn"], sources["cdn"] = cdn.name, "hosting/data/cdns.toml"
        details["origin_hidden"] = True
        if cdn.abuse:
            if fields.get("abuse_email") and fields["abuse_email"] != cdn.abuse:
                details.setdefault("fallback_emails", []).insert(0, fields["abuse_email"])
            fields["abuse_email"], sources["abuse_email"] = cdn.abuse, f"cdn: {cdn.name}"

    if domain and not _is_address(domain):
        registrar = await networks.registrar(domain)
        if registrar:
            fields["registrar"], sources["registrar"] = registrar["name"], "rdap: domain"
            if registrar.get("abuse_email"):
                details.setdefault("escalations", []).append(
                    {
                        "kind": "registrar",
                        "email": registrar["abuse_email"],
                        "name": registrar["name"],
                    }
                )
    if cdn is not None and cdn.abuse and fields.get("abuse_email") != cdn.abuse:
        details.setdefault("escalations", []).append(
            {"kind": "cdn", "email": cdn.abuse, "name": cdn.name}
        )
    details["domains"] = _domains_from(host)
    return fields


def with_overrides(contacts: list, found: dict) -> dict:
    """``found``, or a copy with staff's own contact, which wins over every look-up (the
    look-ups' answers are shared by the whole run, and staff may add a contact during it).
    """
    domains = tuple(found["details"].get("domains", ()))
    contact = override_among(contacts, found.get("ip"), found.get("asn"), domains)
    if contact is None:
        return found
    fields = copy.deepcopy(found)
    previous = fields.get("abuse_email")
    if previous and previous != contact.email:
        fields["details"].setdefault("fallback_emails", []).insert(0, previous)
    fields["abuse_email"] = contact.email
    fields["sources"]["abuse_email"] = f"staff contact: {contact.kind} {contact.key}"
    return fields


def _domains_from(host: str) -> list[str]:
    """``a.b.example.com`` gives itself and each parent down to the registered domain."""
    host = host.strip("[]").lower()
    if _is_address(host):
        return []
    domain = registered_domain(host)
    labels = host.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels))]
    return [p for p in parents if p.endswith(domain) and len(p) >= len(domain)]


def _contains(cidr: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False
