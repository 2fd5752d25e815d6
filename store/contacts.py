"""Staff's own abuse contacts: by network, ASN or domain. They win over every look-up."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

import ada_url
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from settings.parse import EMAIL
from store.exceptions import NotFound, StoreError
from store.models import Contact, Event

_ASN = re.compile(r"^(?:AS)?(\d{1,10})$", re.IGNORECASE)


class BadContact(StoreError):
    """A contact key or email that cannot be used; the message says why."""


@dataclass(frozen=True)
class ContactKey:
    kind: str  # network, asn or domain
    key: str


def parse_key(text: str) -> ContactKey:
    """A network in CIDR form (or one address), ``AS64500`` or ``64500``, or a domain."""
    text = text.strip()
    if match := _ASN.match(text):
        return ContactKey("asn", str(int(match.group(1))))
    try:
        return ContactKey("network", str(ipaddress.ip_network(text, strict=False)))
    except ValueError:
        pass
    try:
        host = ada_url.URL(f"http://{text}/").hostname
    except ValueError:
        host = ""
    if "." not in host.strip("."):
        raise BadContact(f"{text!r} is not a network (CIDR), an ASN (AS64500) or a domain")
    return ContactKey("domain", host.rstrip("."))


def set_contact(session: Session, text: str, email: str, *, actor: str, now: datetime) -> Contact:
    key = parse_key(text)
    email = email.strip()
    if not EMAIL.match(email):
        raise BadContact(f"{email!r} is not an email address")
    contact = session.scalar(
        select(Contact).where(Contact.kind == key.kind, Contact.key == key.key)
    )
    if contact is None:
        contact = Contact(kind=key.kind, key=key.key, added_at=now, added_by=actor, email=email)
        session.add(contact)
    contact.email, contact.added_at, contact.added_by = email, now, actor
    contact.bouncing_since = None
    session.add(
        Event(at=now, actor=actor, action="contact_set", detail=f"{key.kind} {key.key}: {email}")
    )
    return contact


def remove_contact(session: Session, text: str, *, actor: str, now: datetime) -> None:
    key = parse_key(text)
    removed = session.execute(
        delete(Contact).where(Contact.kind == key.kind, Contact.key == key.key)
    )
    if not removed.rowcount:
        raise NotFound(f"no contact for {key.kind} {key.key}")
    session.add(
        Event(at=now, actor=actor, action="contact_removed", detail=f"{key.kind} {key.key}")
    )


def list_contacts(session: Session) -> list[Contact]:
    return list(session.scalars(select(Contact).order_by(Contact.kind, Contact.key)))


def override_among(
    contacts: list[Contact], ip: str | None, asn: int | None, domains: tuple[str, ...]
) -> Contact | None:
    """Staff's contact, among ``contacts`` (`list_contacts()`, read once for many
    look-ups), for this address, ASN or domain: the most specific one wins."""
    address = ipaddress.ip_address(ip) if ip else None
    networks = [
        (ipaddress.ip_network(c.key).prefixlen, c)
        for c in contacts
        if c.kind == "network"
        and address is not None
        and address.version == ipaddress.ip_network(c.key).version
        and address in ipaddress.ip_network(c.key)
    ]
    if networks:
        return max(networks, key=lambda pair: pair[0])[1]
    for domain in domains:  # most specific first, as the caller orders them
        for contact in contacts:
            if contact.kind == "domain" and contact.key == domain:
                return contact
    for contact in contacts:
        if contact.kind == "asn" and asn is not None and contact.key == str(asn):
            return contact
    return None
