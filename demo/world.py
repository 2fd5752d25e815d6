"""The demo's small internet: three hosting providers, a CDN, and content on them."""

from __future__ import annotations

from dataclasses import dataclass

from simnet import Internet, image_body
from simnet.cymru import announce
from simnet.rdap import contact

PROVIDERS = (
    # name, network, ASN, country, abuse desk
    ("Example Hosting BV", "127.10.1.0/24", 64501, "NL", "abuse@example-hosting.test"),
    ("Nimbus Cloud GmbH", "127.10.2.0/24", 64502, "DE", "abuse@nimbus-cloud.test"),
    ("Quickserve LLC", "127.10.3.0/24", 64503, "US", "abuse@quickserve.test"),
)


@dataclass
class DemoSite:
    name: str
    site: object
    provider: str


def build(net: Internet, rdap) -> list[str]:
    """Publish the providers and their content; return the reported URLs."""
    urls = []
    for index, (org, network, asn, country, abuse) in enumerate(PROVIDERS, 1):
        address = network.replace("0/24", "10")
        announce(net.dns, address, asn, network, country=country, description=org)
        rdap.network(
            network,
            name=f"NET-{asn}",
            country=country,
            entities=[
                contact(f"ORG-{asn}", ["registrant"], email=f"noc@{abuse.split('@')[1]}", name=org),
                contact(f"ABUSE-{asn}", ["abuse"], email=abuse),
            ],
        )
        site = net.site(f"files{index}.example.test", address)
        rdap.domain(
            f"files{index}.example.test", "Example Registrar", abuse_email="abuse@registrar.test"
        )
        for photo in range(1, 4):
            site.page(
                f"/album/{photo}.jpg", body=image_body(4096 + photo), content_type="image/jpeg"
            )
            urls.append(site.url(f"/album/{photo}.jpg"))
    gone = net.site("already-gone.example.test", "127.10.1.20")
    gone.take_down("/old.jpg", status=404)
    urls.append(gone.url("/old.jpg"))
    urls.append(f"http://127.0.0.1:{net.web.port}/admin")  # a private address: refused
    return urls
