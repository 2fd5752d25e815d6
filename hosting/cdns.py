"""Known CDNs and reverse proxies, from ``hosting/data/cdns.toml``."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("data") / "cdns.toml"


@dataclass(frozen=True)
class Cdn:
    name: str
    asns: frozenset[int]
    cname_suffixes: tuple[str, ...]
    abuse: str | None


@functools.cache
def known_cdns(path: Path = DATA) -> tuple[Cdn, ...]:
    with path.open("rb") as file:
        entries = tomllib.load(file)["cdn"]
    return tuple(
        Cdn(
            entry["name"],
            frozenset(entry.get("asns", ())),
            tuple(s.lower().strip(".") for s in entry.get("cname_suffixes", ())),
            entry.get("abuse") or None,
        )
        for entry in entries
    )


def find_cdn(asn: int | None, names: tuple[str, ...] = ()) -> Cdn | None:
    """The CDN that ``asn`` belongs to, or that one of ``names`` (a CNAME chain) points into."""
    for cdn in known_cdns():
        if asn is not None and asn in cdn.asns:
            return cdn
        for name in names:
            name = name.lower().rstrip(".")
            if any(name == s or name.endswith("." + s) for s in cdn.cname_suffixes):
                return cdn
    return None
