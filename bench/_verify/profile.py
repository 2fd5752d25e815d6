"""Profiling `ntd check` with py-spy (sampling from outside, so the run is barely slowed),
and summing its samples by cost.

py-spy leaves idle samples (a thread waiting in epoll, select or a lock) out by default,
so the shares below are shares of the time the process was busy.
"""

import re
import sys
from collections import Counter
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")
RATE = 250  # samples per second
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
GROUPS = [
    ("sqlalchemy", "sqlalchemy/"),
    ("scrapy", "scrapy/"),
    ("twisted", "twisted/"),
    ("dnspython", "dns/"),
    ("asyncio", "asyncio/"),
    ("logging", "logging/"),
    ("sqlite3", "sqlite3/"),
    ("importing", "<frozen importlib"),
]
OWN = ("crawler/", "hosting/", "store/", "cli/", "settings/", "intake/")


# Each sample goes to the component of the innermost frame that belongs to one, walking
# out from the leaf past plumbing (Deferred chains, asyncio, SQLAlchemy, dnspython, the
# standard library), so that the time under an async callback, whose callers are the
# event loop rather than its awaiter, still goes to what it was doing. Start-up imports
# are told apart first.
COMPONENTS = [
    ("hosting resolution", ("hosting/",)),
    ("recorder: window writes", ("crawler/recorder.py",)),
    ("claiming reports", ("crawler/spiders/verify.py:_claim",)),
    ("safety resolver", ("crawler/resolver.py",)),
    ("streaming SHA-256", ("crawler/fingerprint.py",)),
    ("spider callbacks", ("crawler/spiders/verify.py", "crawler/outcomes.py")),
    ("store, other", ("store/",)),
    ("signals (send_catch_log)", ("scrapy/utils/signal.py", "pydispatch/")),
    (
        "scraper + spider middlewares",
        (
            "scrapy/core/scraper.py",
            "scrapy/core/spidermw.py",
            "scrapy/spidermiddlewares/",
            "scrapy/utils/asyncgen.py",
            "scrapy/middleware.py",
        ),
    ),
    (
        "downloader middlewares",
        ("scrapy/core/downloader/middleware.py", "scrapy/downloadermiddlewares/"),
    ),
    (
        "engine + scheduler",
        (
            "scrapy/core/engine.py",
            "scrapy/core/scheduler.py",
            "scrapy/pqueues.py",
            "scrapy/squeues.py",
            "queuelib/",
        ),
    ),
    ("downloader slots", ("scrapy/core/downloader/__init__.py",)),
    (
        "HTTP/1.1 handler + Twisted HTTP client",
        ("scrapy/core/downloader/handlers/", "twisted/web/", "twisted/protocols/basic.py"),
    ),
    ("Request/Response/Headers objects", ("scrapy/http/", "scrapy/responsetypes.py", "w3lib/")),
    (
        "reactor, TCP",
        (
            "twisted/internet/tcp.py",
            "twisted/internet/abstract.py",
            "twisted/internet/asyncioreactor.py",
            "twisted/internet/base.py",
            "selectors.py",
            "twisted/internet/_resolver.py",
            "twisted/internet/endpoints.py",
        ),
    ),
    ("scrapy, other", ("scrapy/",)),
]


def _component(frames: list[tuple[str, str]]) -> str:
    if any("<frozen importlib" in file for _, file in frames):
        return "start-up imports"
    for function, file in reversed(frames):
        where = f"{file}:{function}"
        for name, patterns in COMPONENTS:
            if any(p in where if ":" in p else p in file for p in patterns):
                return name
    return "other (" + (frames[-1][1].split("/")[0] if frames else "?") + ")"


def command_prefix(output: Path) -> list[str]:
    return [str(PY_SPY), "record", "-f", "raw", "-r", str(RATE), "-o", str(output), "--"]


def _parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames_text, _, count = line.rpartition(" ")
        frames = []
        for frame in frames_text.split(";"):
            match = _FRAME.match(frame)
            if match:
                frames.append((match["function"], _short(match["file"])))
            else:
                frames.append((frame, ""))
        stacks.append((frames, int(count)))
    return stacks


def _group(file: str) -> str:
    for name, needle in GROUPS:
        if needle in file:
            return name
    if file.startswith(OWN):
        return "ntd"
    return "other"


def summary(path: Path, top: int = 12, points: list[str] = ()) -> str:
    stacks = _parse(path)
    total = sum(count for _, count in stacks)
    if not total:
        return "profile: no samples"
    selfs: Counter[tuple[str, str]] = Counter()
    groups: Counter[str] = Counter()
    components: Counter[str] = Counter()
    for frames, count in stacks:
        components[_component(frames)] += count
        function, file = frames[-1]
        selfs[function, file] += count
        # The package of the innermost frame that is not the standard library's C
        # entry points: where the time went, by library.
        groups[_group(file)] += count
    lines = [f"profile: {total:,} busy samples at {RATE}/s ({total / RATE:.1f} s of CPU)"]
    lines.append(
        "  self time by package: "
        + ", ".join(f"{g} {100 * n / total:.0f}%" for g, n in groups.most_common())
    )
    lines.append("  by component:")
    for name, count in components.most_common():
        lines.append(f"    {100 * count / total:5.1f}%  {count / RATE:5.1f} s  {name}")
    lines.append("  top self time:")
    for (function, file), count in selfs.most_common(top):
        lines.append(f"    {100 * count / total:5.1f}%  {function}  {file}")
    if points:
        lines.append("  inclusive time:")
        for point in points:
            file_part, _, function = point.rpartition(":")
            count = sum(
                n
                for frames, n in stacks
                if any(f == function and file.endswith(file_part) for f, file in frames)
            )
            if count:
                lines.append(f"    {100 * count / total:5.1f}%  {point}")
    return "\n".join(lines)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/ntd-snap/", "/work/main/", "python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
