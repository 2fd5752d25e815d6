"""A simulated RDAP service on loopback: ``/ip/``, ``/entity/`` and ``/domain/`` (RFC 9082).

Documents are served as ``application/rdap+json`` from what tests put in::

    rdap.network("127.20.0.0/16", name="UPSTREAM", entities=[contact("UP-ABUSE", ["abuse"],
                 email="abuse@upstream.test")])
    rdap.network("127.20.1.0/24", country="NL", parent_handle="127.20.0.0/16")
    rdap.load_sample("74.125.225.229", onto="127.20.2.0/24")  # ARIN's real answer, moved

``/ip/X`` answers the most specific served network containing X (an address or a prefix).
Faults (:meth:`RdapServer.fail_next`) and a request log make client behaviour testable.
Mutators are thread-safe: tests call them from their own thread while the server runs on
simnet's loop. Nothing here is sent anywhere: the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from simnet.http11 import BadRequest, Request, encode_response, read_request
from simnet.listen import StreamServer, bind

RDAP_JSON = "application/rdap+json"
HOME_ADDRESS = "127.0.0.1"
# The real registry answers published next to the project (see ../shared/rdap-samples/).
SAMPLES = Path(__file__).resolve().parents[2] / "shared/rdap-samples/ipwhois-tests-rdap.json"
_ROUTE = re.compile(r"^(?:.*?)/(ip|entity|domain)/(.+)$")
_PADDED_V4 = re.compile(r"^\d{3}\.\d{3}\.\d{3}\.\d{3}$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def contact(
    handle: str,
    roles: Iterable[str] = (),
    *,
    email: str | Iterable[str] | None = None,
    name: str | None = None,
    kind: str = "org",
    entities: Iterable[dict] = (),
    bare: bool = False,
) -> dict:
    """An RDAP entity with a jCard: ``email`` may be one address or several.

    ``bare=True`` gives only handle and roles, as registries do for entities whose contact
    details must be fetched from ``/entity/{handle}``.
    """
    entity: dict = {"objectClassName": "entity", "handle": handle, "roles": list(roles)}
    if not bare:
        emails = [email] if isinstance(email, str) else list(email or ())
        vcard = [["version", {}, "text", "4.0"], ["fn", {}, "text", name or handle]]
        vcard += [["kind", {}, "text", kind]] + [["email", {}, "text", e] for e in emails]
        entity["vcardArray"] = ["vcard", vcard]
    if entities := list(entities):
        entity["entities"] = entities
    return entity


@dataclass(frozen=True, slots=True)
class RdapRequest:
    """One request as the server received it; ``status`` 0 means it was never answered."""

    time: float
    method: str
    path: str
    status: int


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int
    retry_after: float | None
    hang: bool


class RdapServer:
    """An RDAP server on ``127.0.0.1``, port chosen by the kernel; :attr:`url` is its base URL.

    :meth:`start` and :meth:`stop` run on the event loop; if the loop's tasks are cancelled
    (simnet's :class:`~simnet.loop.LoopThread` does so when stopping), the server closes too.
    """

    def __init__(self) -> None:
        self.port: int | None = None
        self._lock = threading.Lock()
        self._networks: dict[Network, tuple[dict, bool]] = {}
        self._entities: dict[str, dict] = {}
        self._domains: dict[str, dict] = {}
        self._faults: deque[_Fault] = deque()
        self._log: list[RdapRequest] = []
        self._streams = StreamServer()
        self._lifetime: asyncio.Task | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the RDAP_URL to configure."""
        if self.port is None:
            raise RuntimeError("the RDAP server is not started")
        return f"http://{HOME_ADDRESS}:{self.port}"

    async def start(self) -> None:
        sock = bind(HOME_ADDRESS, socket.SOCK_STREAM, 0)
        self.port = sock.getsockname()[1]
        self._streams.listen(sock, self._serve_connection)
        self._lifetime = asyncio.get_running_loop().create_task(self._close_when_cancelled())

    async def stop(self) -> None:
        if self._lifetime is not None:
            self._lifetime.cancel()
            await asyncio.gather(self._lifetime, return_exceptions=True)
        self._lifetime = self.port = None

    async def _close_when_cancelled(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await self._streams.stop()

    # What is served.

    def network(
        self,
        cidr: str,
        *,
        name: str | None = None,
        country: str | None = None,
        entities: Iterable[dict] = (),
        parent_handle: str | None = None,
        handle: str | None = None,
    ) -> dict:
        """Serve an ``ip network`` document for ``cidr``; its handle defaults to the CIDR.

        ``parent_handle`` naming another served network adds a ``links`` entry with rel
        ``up`` pointing at it, as APNIC does.
        """
        net = ipaddress.ip_network(cidr)
        prefix_key = "v4prefix" if net.version == 4 else "v6prefix"
        doc = {
            "objectClassName": "ip network",
            "rdapConformance": ["rdap_level_0", "cidr0"],
            "handle": handle or str(net),
            "startAddress": str(net.network_address),
            "endAddress": str(net.broadcast_address),
            "ipVersion": f"v{net.version}",
            "cidr0_cidrs": [{prefix_key: str(net.network_address), "length": net.prefixlen}],
            "name": name or f"NET-{net.network_address}-{net.prefixlen}".replace(":", "-"),
            "type": "ASSIGNED",
            "entities": copy.deepcopy(list(entities)),
        }
        if country:
            doc["country"] = country
        if parent_handle:
            doc["parentHandle"] = parent_handle
        with self._lock:
            self._networks[net] = (doc, True)
        return copy.deepcopy(doc)

    def entity(self, handle: str, doc: dict | None = None) -> dict:
        """Serve ``doc`` (by default a bare entity) at ``/entity/{handle}``."""
        doc = copy.deepcopy(doc) if doc is not None else {}
        doc.setdefault("objectClassName", "entity")
        doc.setdefault("handle", handle)
        with self._lock:
            self._entities[handle.casefold()] = doc
        return copy.deepcopy(doc)

    def domain(
        self, name: str, registrar: str | None = None, *, abuse_email: str | None = None
    ) -> dict:
        """Serve a ``domain`` document, with a registrar entity (and its abuse contact)."""
        ldh = name.strip().lower().rstrip(".")
        doc: dict = {"objectClassName": "domain", "handle": ldh.upper(), "ldhName": ldh}
        if registrar:
            abuse = [contact(f"{registrar}-ABUSE", ["abuse"], email=abuse_email)]
            doc["entities"] = [
                contact(registrar, ["registrar"], entities=abuse if abuse_email else ())
            ]
        with self._lock:
            self._domains[ldh] = doc
        return copy.deepcopy(doc)

    def load_sample(
        self, sample_ip: str, onto: str = "127.20.1.0/24", *, samples: str | Path = SAMPLES
    ) -> dict:
        """Serve a real registry answer from the samples file, moved onto loopback ``onto``.

        startAddress, endAddress, cidr0_cidrs, ipVersion and a handle that names the range
        are rewritten to cover ``onto`` (keeping ARIN's zero padding); all else is unchanged,
        so links still name the real registries and must never be followed as given.
        """
        net = ipaddress.ip_network(onto)
        doc = json.loads(Path(samples).read_text(encoding="utf-8"))[sample_ip]["response"]
        doc = moved_onto(copy.deepcopy(doc), net)
        with self._lock:
            self._networks[net] = (doc, False)
        return copy.deepcopy(doc)

    # Faults and the request log.

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 429,
        retry_after: float | None = 1,
        mode: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` (with Retry-After unless None),
        or with ``mode="hang"`` read them and never answer until the server stops."""
        fault = _Fault(status, retry_after, mode == "hang")
        with self._lock:
            self._faults.extend([fault] * n)

    @property
    def requests(self) -> list[RdapRequest]:
        with self._lock:
            return list(self._log)

    def count(self, prefix: str = "/") -> int:
        """How many requests had a path starting with ``prefix`` (``/ip/``, ``/entity/``…)."""
        return sum(1 for r in self.requests if r.path.startswith(prefix))

    # Serving.

    async def _serve_connection(self, reader, writer) -> None:
        try:
            while (request := await read_request(reader)) is not None:
                if not await self._answer(request, writer):
                    break
        except BadRequest as exc:
            writer.write(encode_response(400, [], str(exc).encode(), keep_alive=False))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        writer.close()

    async def _answer(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        match = _ROUTE.match(unquote(request.path))
        path = f"/{match[1]}/{match[2]}" if match else unquote(request.path)
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        headers: list[tuple[str, str]] = []
        if fault is not None and fault.hang:
            self._record(request, path, 0)
            await asyncio.get_running_loop().create_future()  # cancelled by stop()
        if fault is not None:
            status, doc = fault.status, _error(fault.status)
            if fault.retry_after is not None:
                headers.append(("Retry-After", f"{fault.retry_after:g}"))
        elif request.method not in ("GET", "HEAD"):
            status, doc = 405, _error(405)
        else:
            doc = self._lookup(match[1], match[2]) if match else None
            status, doc = (200, doc) if doc is not None else (404, _error(404))
        self._record(request, path, status)
        body = json.dumps(doc).encode()
        writer.write(
            encode_response(
                status,
                [("Content-Type", RDAP_JSON), *headers],
                body,
                keep_alive=request.keep_alive,
                head_only=request.method == "HEAD",
            )
        )
        await writer.drain()
        return request.keep_alive

    def _record(self, request: Request, path: str, status: int) -> None:
        with self._lock:
            self._log.append(RdapRequest(time.time(), request.method, path, status))

    def _lookup(self, kind: str, key: str) -> dict | None:
        with self._lock:
            if kind == "entity":
                return copy.deepcopy(self._entities.get(key.casefold()))
            if kind == "domain":
                return copy.deepcopy(self._domains.get(key.lower().rstrip(".")))
            try:
                query = ipaddress.ip_network(key, strict=False)
            except ValueError:
                return None
            covering = [
                (net, entry)
                for net, entry in self._networks.items()
                if net.version == query.version and query.subnet_of(net)
            ]
            if not covering:
                return None
            net, (doc, synthetic) = max(covering, key=lambda item: item[0].prefixlen)
            doc = copy.deepcopy(doc)
            if synthetic:
                doc["links"] = self._links(net, doc.get("parentHandle"))
            return doc

    def _links(self, net: Network, parent_handle: str | None) -> list[dict]:
        links = [{"rel": "self", "href": f"{self.url}/ip/{net}", "type": RDAP_JSON}]
        for parent, (doc, _) in self._networks.items():
            if parent_handle and doc.get("handle") == parent_handle:
                links.append({"rel": "up", "href": f"{self.url}/ip/{parent}", "type": RDAP_JSON})
        return links


def moved_onto(doc: dict, net: Network) -> dict:
    """``doc`` with its address range (and a handle naming it) rewritten to cover ``net``."""
    first, last = str(net.network_address), str(net.broadcast_address)
    if _PADDED_V4.match(str(doc.get("startAddress", ""))) and net.version == 4:
        first, last = (".".join(f"{int(o):03d}" for o in a.split(".")) for a in (first, last))
    handle = str(doc.get("handle", ""))
    if " - " in handle:
        doc["handle"] = f"{net.network_address} - {net.broadcast_address}"
    elif _is_address_or_prefix(handle):
        doc["handle"] = str(net) if "/" in handle else str(net.network_address)
    doc.update(startAddress=first, endAddress=last, ipVersion=f"v{net.version}")
    if "cidr0_cidrs" in doc:
        prefix_key = "v4prefix" if net.version == 4 else "v6prefix"
        doc["cidr0_cidrs"] = [{prefix_key: str(net.network_address), "length": net.prefixlen}]
    return doc


def _is_address_or_prefix(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _error(status: int) -> dict:
    return {
        "errorCode": status,
        "title": {404: "Not Found", 429: "Too Many Requests"}.get(status, "Error"),
        "description": [f"simnet RDAP answered {status}"],
    }
