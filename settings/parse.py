"""Parsers for setting values.

Each parser takes the raw value, as text from the environment or as a TOML value, and
returns the typed value or raises ``ValueError`` with a message that says what a good
value looks like. ``settings.load`` adds the setting's name to that message.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from urllib.parse import urlsplit

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_DURATION_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = timedelta(days=3650)
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
COUNTRY = re.compile(r"^[A-Z]{2}$")
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def text(value: object) -> str:
    if not isinstance(value, str | int | float):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return str(value).strip()


def optional_text(value: object) -> str | None:
    return text(value) or None


def integer(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a boolean")
    try:
        number = int(text(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{number} is negative")
    return number


def positive_integer(value: object) -> int:
    number = integer(value)
    if number == 0:
        raise ValueError("must be at least 1")
    return number


def fraction(value: object) -> float:
    try:
        number = float(text(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{number} is not a fraction between 0 and 1")
    return number


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = text(value).lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def duration(value: object) -> timedelta:
    """Plain seconds, or a number with s, m, h or d: ``90s``, ``15m``, ``24h``, ``7d``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    match = _DURATION.match(text(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration (use seconds, or 90s, 15m, 24h, 7d)")
    number, unit = match.groups()
    seconds = float(number) * _DURATION_UNITS[unit]
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is longer than {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def optional_duration(value: object) -> timedelta | None:
    """A duration, or empty for none."""
    if not isinstance(value, int | float) and not text(value):
        return None
    return duration(value)


def size(value: object) -> int:
    """Bytes, or a number with KB, KiB, MB, MiB, GB or GiB."""
    match = _SIZE.match(text(value))
    if not match:
        raise ValueError(f"{value!r} is not a size (use bytes, or e.g. 512KiB, 16MiB)")
    number, unit = match.groups()
    return int(number) * _SIZE_UNITS[(unit or "b").lower()]


def rate(value: object) -> float:
    """Requests per second, from ``N/s``, ``N/m`` or ``N/h``."""
    match = _RATE.match(text(value))
    if not match:
        raise ValueError(f"{value!r} is not a rate (use e.g. 1/s, 30/m, 600/h)")
    number, unit = match.groups()
    per_second = float(number) / {"s": 1, "m": 60, "h": 3600}[unit]
    if per_second <= 0:
        raise ValueError("a rate must be above zero")
    return per_second


def text_list(value: object) -> tuple[str, ...]:
    """Comma-separated text in the environment, an array in TOML."""
    items = value if isinstance(value, list) else text(value).split(",")
    return tuple(item for item in (text(i) for i in items) if item)


def networks(value: object) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    result = []
    for item in text_list(value):
        try:
            result.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network in CIDR form (e.g. 127.0.0.0/8)") from None
    return tuple(result)


def nameservers(value: object) -> tuple[tuple[str, int], ...]:
    """``ip[:port]`` entries; IPv6 with a port is written ``[ip]:port``."""
    result = []
    for item in text_list(value):
        host, port = item, 53
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            if not port_text.isdigit():
                raise ValueError(f"{item!r} has a port that is not a number")
            port = int(port_text)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address (use ip or ip:port)") from None
        if not 0 < port < 65536:
            raise ValueError(f"{item!r} has a port out of range")
        result.append((host, port))
    return tuple(result)


def database_url(value: object) -> str:
    url = text(value)
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise ValueError(
            f"{url!r} is not a supported database URL "
            "(use sqlite:///path or postgresql+psycopg://user@host/db)"
        )
    return url


def http_url(value: object) -> str | None:
    url = text(value)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return url.rstrip("/")


def smtp_url(value: object) -> str | None:
    url = text(value)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{url!r} is not an SMTP URL (use smtp://host:port or smtps://host:port)")
    try:
        parts.port  # noqa: B018 - evaluating it validates the port
    except ValueError:
        raise ValueError(f"{url!r} has a port that is not a number") from None
    return url


def email(value: object) -> str | None:
    address = text(value)
    if address and not EMAIL.match(address):
        raise ValueError(f"{address!r} is not an email address")
    return address or None


def country(value: object) -> str | None:
    code = text(value).upper()
    if code and not COUNTRY.match(code):
        raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 country code")
    return code or None


def category(value: object) -> str:
    from intake.categories import CATEGORIES

    name = text(value)
    if name not in CATEGORIES:
        raise ValueError(f"{name!r} is not a category (one of {', '.join(CATEGORIES)})")
    return name


def public_url(value: object) -> str | None:
    """The dashboard's address as providers reach it: http(s), no query or fragment."""
    url = http_url(value)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{url!r} must be a plain base URL (no user, query or fragment)")
    return url


def imap_url(value: object) -> str | None:
    """``imaps://user:pass@host[:port]/FOLDER``, or ``imap://`` (``?starttls=1`` to upgrade)."""
    url = text(value)
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError(f"{url!r} is not an IMAP URL (use imaps://user:pass@host/INBOX)")
    if not parts.username:
        raise ValueError(f"{url!r} names no user (use imaps://user:pass@host/INBOX)")
    try:
        parts.port  # noqa: B018 - evaluating it validates the port
    except ValueError:
        raise ValueError(f"{url!r} has a port that is not a number") from None
    return url


def secret_key(value: object) -> str | None:
    key = text(value)
    if key and len(key) < 32:
        raise ValueError("must be at least 32 characters (e.g. from `openssl rand -hex 32`)")
    return key or None


def log_format(value: object) -> str:
    name = text(value).lower() or "plain"
    if name not in ("plain", "json"):
        raise ValueError(f"{name!r} is not a log format (plain or json)")
    return name


_REFERENCE = re.compile(r"^\s*([^=,]{1,40}?)\s*=\s*(\d+(?:\.\d+)?)\s*%\s*@\s*(\S+)\s*$")


def references(value: object) -> tuple[tuple[str, float, float], ...]:
    """``NAME=SHARE%@TIME`` items: ``INHOPE=74%@3d`` is (INHOPE, 0.74, 259200.0)."""
    result = []
    for item in text_list(value):
        match = _REFERENCE.match(item)
        if not match:
            raise ValueError(
                f"{item!r} is not a reference (use NAME=SHARE%@TIME, e.g. INHOPE=74%@3d)"
            )
        name, share, within = match.groups()
        if not 0 < float(share) <= 100:
            raise ValueError(f"{item!r}: the share must be above 0% and at most 100%")
        seconds = duration(within).total_seconds()
        if seconds <= 0:
            raise ValueError(f"{item!r}: the time must be above zero")
        result.append((name, float(share) / 100, seconds))
    return tuple(result)
