"""simnet: a simulated internet on loopback for tests, benchmarks and demos.

Web hosts (HTTP and self-signed HTTPS) on distinct 127.x addresses and a
DNS server, all bound to 127.0.0.0/8 only::

    from simnet import Internet, image_body

    with Internet() as net:
        site = net.site("shop.test")
        site.page("/a.jpg", body=image_body(2048))
        url = site.url("/a.jpg")  # http://shop.test:PORT/a.jpg
        site.take_down("/a.jpg", status=410)

Every body simnet generates contains :data:`MARKER`, so tests can check
that nothing retained content (see :func:`files_containing_marker`).
The servers (:class:`WebServer`, :class:`DnsServer`) are plain asyncio
objects usable without the :class:`Internet` facade.
"""

from simnet.content import (
    MARKER,
    MARKER_BYTES,
    contains_marker,
    files_containing_marker,
    html_body,
    image_body,
)
from simnet.dnsserver import DnsServer
from simnet.internet import Internet
from simnet.loop import LoopThread
from simnet.requestlog import RequestLog, RequestRecord
from simnet.sites import Fault, Page, Site
from simnet.web import WebServer
from simnet.zone import DnsFault, Zone

__all__ = [
    "MARKER",
    "MARKER_BYTES",
    "DnsFault",
    "DnsServer",
    "Fault",
    "Internet",
    "LoopThread",
    "Page",
    "RequestLog",
    "RequestRecord",
    "Site",
    "WebServer",
    "Zone",
    "contains_marker",
    "files_containing_marker",
    "html_body",
    "image_body",
]
