"""The registered domain of a host name, from the public suffix list bundled with tldextract.

No fetch at run time and no cache written: the module-level ``tldextract.extract()``
does both, so it is never used. Private suffixes (blogspot.com and the like) are kept
apart: ``user.blogspot.com`` is its own registered domain, as its owner is who to ask.
"""

from __future__ import annotations

import functools
import ipaddress

import tldextract

# `.test` is reserved (RFC 2606) and never delegated; treating it as a public suffix
# makes the simulated internet's names behave like real ones.
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(),
    cache_dir=None,
    include_psl_private_domains=True,
    extra_suffixes=["test"],
)


@functools.lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """``example.co.uk`` for ``www.example.co.uk``; an IP address or bare name as it is."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return _EXTRACT(host).top_domain_under_public_suffix or host
