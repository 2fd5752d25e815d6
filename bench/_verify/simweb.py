"""The simulated web in a process of its own (``python -m simnet``), so that its CPU is
not counted as any client's."""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every site lives here (simnet's address pool starts at 127.10.0.1); the DNS server
# is on 127.0.0.1, which stays forbidden to the crawler.
NETWORK = "127.10.0.0/16"


@dataclass(frozen=True)
class Layout:
    hosts: int
    pages: int  # per host
    latency: float
    body_size: int = 2048

    @property
    def urls(self) -> int:
        return self.hosts * self.pages


class SimWeb:
    """``with SimWeb(layout) as web:`` runs ``python -m simnet`` until the block ends."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.process: subprocess.Popen | None = None
        self.ready: dict = {}

    def __enter__(self) -> "SimWeb":
        layout = self.layout
        command = [
            sys.executable,
            "-m",
            "simnet",
            "--hosts",
            str(layout.hosts),
            "--pages",
            str(layout.pages),
            "--latency",
            str(layout.latency),
            "--body-size",
            str(layout.body_size),
            "--linkchecker-header",
        ]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("python -m simnet exited before it was ready")
        self.ready = json.loads(line)
        return self

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()  # simnet stops when its stdin closes
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(10)
        self.process.stdout.close()

    def stats(self) -> dict:
        """What the servers answered since the last call, and the window it took."""
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    @property
    def port(self) -> int:
        return self.ready["http_port"]

    @property
    def nameserver(self) -> str:
        return self.ready["nameserver"]

    @property
    def probe_name(self) -> str:
        return self.ready["probe_name"]

    def urls(self, *, names: bool = False, limit: int | None = None) -> list[tuple[str, str]]:
        """(URL, expected SHA-256) for every page, hosts interleaved: the i-th URL is on
        host i mod H, so that no client meets one host's pages in a row.

        With ``names`` the host is the site's DNS name; else it is the site's 127.x
        literal, which simnet serves as the address's default (and only) site.
        """
        hosts = self.ready["hosts"]
        path = self.ready["page_path"]
        out = []
        for page in range(self.layout.pages):
            for host in hosts:
                netloc = host["name"] if names else host["address"]
                out.append((f"http://{netloc}:{self.port}{path.format(page)}", host["sha256"]))
        return out[:limit] if limit is not None else out
