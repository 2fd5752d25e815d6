"""The simulated DNS data: records, answers that change, and per-name faults.

A :class:`Zone` answers questions the way a recursive resolver would
present them to a stub: CNAME chains are followed and returned together
with the final records.  It is thread-safe, independent of any transport,
and every change applies from the next query on.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

Values = Sequence[str]
"""Record data in zone-file text form, e.g. ``["127.10.0.1"]`` for an A rrset."""
MAX_CNAME_HOPS = 16
TXT_CHUNK = 255


class DnsFault(enum.Enum):
    """Ways a name can fail to resolve, however its records are set."""

    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    """No answer at all: the query is dropped."""
    REFUSED = "refused"


_FAULT_RCODES = {DnsFault.SERVFAIL: dns.rcode.SERVFAIL, DnsFault.REFUSED: dns.rcode.REFUSED}


@dataclass
class Resolution:
    """The outcome of one question: an rcode with its sections, or a dropped query."""

    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    dropped: bool = False


def to_name(name: str | dns.name.Name) -> dns.name.Name:
    """An absolute name; text names are read as absolute (``shop.test`` = ``shop.test.``)."""
    return name if isinstance(name, dns.name.Name) else dns.name.from_text(name)


class Zone:
    """Records for names under ``origins``; ``"."`` (the default) covers every name.

    Unknown names under an origin get NXDOMAIN, names outside all origins
    REFUSED.  Setting an rrset replaces the previous one of that type.
    """

    def __init__(self, origins: Iterable[str] = (".",), *, ttl: int = 1) -> None:
        self.ttl = ttl
        self._origins = [to_name(origin) for origin in origins]
        self._lock = threading.Lock()
        self._sources: dict[dns.name.Name, dict[dns.rdatatype.RdataType, Callable[[], Values]]] = {}
        self._faults: dict[dns.name.Name, tuple[DnsFault, int | None]] = {}

    # Records.

    def set_records(self, name: str, rdtype: str, values: Values) -> None:
        """Serve ``values`` as the ``rdtype`` rrset of ``name``."""
        frozen = tuple(values)
        self._set_source(name, rdtype, lambda: frozen)

    def a(self, name: str, *addresses: str) -> None:
        self.set_records(name, "A", addresses)

    def aaaa(self, name: str, *addresses: str) -> None:
        self.set_records(name, "AAAA", addresses)

    def cname(self, name: str, target: str) -> None:
        self.set_records(name, "CNAME", [target])

    def ns(self, name: str, *hosts: str) -> None:
        self.set_records(name, "NS", hosts)

    def txt(self, name: str, *texts: str) -> None:
        """One TXT record per text; long texts are split into 255-character strings."""
        self.set_records(name, "TXT", [_txt_rdata(text) for text in texts])

    def sequence(self, name: str, answers: Sequence[str | Values], rdtype: str = "A") -> None:
        """Answer successive queries with successive ``answers``; the last one repeats.

        An answer is one value or a list of values.  Made for DNS rebinding
        tests: ``sequence("rebind.test", ["127.10.0.5", "127.0.0.1"])``.
        """
        if not answers:
            raise ValueError("a sequence needs at least one answer")
        remaining = [_as_values(answer) for answer in answers]

        def next_answer() -> Values:
            return remaining.pop(0) if len(remaining) > 1 else remaining[0]

        self._set_source(name, rdtype, next_answer)

    def dynamic(self, name: str, answer: Callable[[], str | Values], rdtype: str = "A") -> None:
        """Compute the ``rdtype`` answer of ``name`` afresh for every query.

        ``answer`` runs on the server thread while the zone is locked, so it
        must be quick and must not call back into the zone.
        """
        self._set_source(name, rdtype, lambda: _as_values(answer()))

    def delete(self, name: str, rdtype: str | None = None) -> None:
        """Remove one rrset of ``name``, or the whole name (making it NXDOMAIN)."""
        key = to_name(name)
        with self._lock:
            sources = self._sources.get(key, {})
            if rdtype is not None:
                sources.pop(dns.rdatatype.from_text(rdtype), None)
            if rdtype is None or not sources:
                self._sources.pop(key, None)

    # Faults.

    def servfail(self, name: str, times: int | None = None) -> None:
        """Answer SERVFAIL for ``name`` (and names whose CNAME chain reaches it)."""
        self._set_fault(name, DnsFault.SERVFAIL, times)

    def timeout(self, name: str, times: int | None = None) -> None:
        """Drop queries for ``name`` silently, so that the client times out."""
        self._set_fault(name, DnsFault.TIMEOUT, times)

    def refuse(self, name: str, times: int | None = None) -> None:
        self._set_fault(name, DnsFault.REFUSED, times)

    def clear_fault(self, name: str) -> None:
        with self._lock:
            self._faults.pop(to_name(name), None)

    # Lookup.

    def resolve(self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> Resolution:
        """Answer one question, following CNAMEs within the zone."""
        result = Resolution()
        name = qname
        with self._lock:
            for _ in range(MAX_CNAME_HOPS):
                fault = self._take_fault(name)
                if fault is DnsFault.TIMEOUT:
                    return Resolution(dropped=True)
                if fault is not None:
                    return Resolution(_FAULT_RCODES[fault])
                origin = self._origin_of(name)
                if origin is None:
                    # Outside our zones: the query name is refused; a CNAME
                    # target here is returned as-is, as an authority would.
                    return result if result.answer else Resolution(dns.rcode.REFUSED)
                sources = self._sources.get(name, {})
                if rdtype in sources:
                    answer_type = rdtype
                elif dns.rdatatype.CNAME in sources:
                    answer_type = dns.rdatatype.CNAME
                else:
                    if not self._exists(name):
                        result.rcode = dns.rcode.NXDOMAIN
                    result.authority.append(self._soa(origin))
                    return result
                rrset = self._rrset(name, answer_type, sources[answer_type])
                if rrset is None:
                    # An empty answer from a sequence or callable: no data.
                    result.authority.append(self._soa(origin))
                    return result
                result.answer.append(rrset)
                if answer_type == rdtype:
                    return result
                name = rrset[0].target
        return Resolution(dns.rcode.SERVFAIL)

    def _rrset(
        self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType, source: Callable[[], Values]
    ) -> dns.rrset.RRset | None:
        values = source()
        if not values:
            return None
        return dns.rrset.from_text_list(
            name, self.ttl, "IN", rdtype, values, origin=dns.name.root, relativize=False
        )

    def _set_source(self, name: str, rdtype: str, source: Callable[[], Values]) -> None:
        with self._lock:
            self._sources.setdefault(to_name(name), {})[dns.rdatatype.from_text(rdtype)] = source

    def _set_fault(self, name: str, fault: DnsFault, times: int | None) -> None:
        with self._lock:
            self._faults[to_name(name)] = (fault, times)

    def _take_fault(self, name: dns.name.Name) -> DnsFault | None:
        entry = self._faults.get(name)
        if entry is None:
            return None
        fault, times = entry
        if times is not None:
            if times <= 1:
                del self._faults[name]
            else:
                self._faults[name] = (fault, times - 1)
        return fault

    def _origin_of(self, name: dns.name.Name) -> dns.name.Name | None:
        matches = [origin for origin in self._origins if name.is_subdomain(origin)]
        return max(matches, key=len, default=None)

    def _exists(self, name: dns.name.Name) -> bool:
        # A name with no records of its own still exists (NODATA rather than
        # NXDOMAIN) when names below it do, e.g. "test." above "shop.test.".
        return any(known.is_subdomain(name) for known in self._sources)

    def _soa(self, origin: dns.name.Name) -> dns.rrset.RRset:
        # Negative answers carry the SOA so resolvers can cache them for ttl.
        data = (
            f"ns.simnet.test. hostmaster.simnet.test. 1 {self.ttl} {self.ttl} {self.ttl} {self.ttl}"
        )
        return dns.rrset.from_text(origin, self.ttl, "IN", "SOA", data)


def _as_values(answer: str | Values) -> Values:
    return [answer] if isinstance(answer, str) else list(answer)


def _txt_rdata(text: str) -> str:
    data = text.encode()
    chunks = [data[i : i + TXT_CHUNK] for i in range(0, len(data), TXT_CHUNK)] or [b""]
    return " ".join(f'"{_escape(chunk)}"' for chunk in chunks)


def _escape(chunk: bytes) -> str:
    """Zone-file escaping of a character-string: quotes, backslashes, non-ASCII."""
    return "".join(
        "\\" + chr(byte)
        if byte in b'"\\'
        else chr(byte)
        if 0x20 <= byte < 0x7F
        else f"\\{byte:03d}"
        for byte in chunk
    )
