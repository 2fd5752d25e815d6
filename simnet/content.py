"""Bodies served by simulated sites, each carrying :data:`MARKER`.

The marker lets a test prove that the system under test kept no content:
after a run, search everything it wrote (database dumps, logs, spool
directories) for the marker with :func:`files_containing_marker`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path

MARKER = "NTD-SIMNET-MARKER-7f3a9c"
MARKER_BYTES = MARKER.encode("ascii")

# SOI followed by an APP0/JFIF segment header: enough for magic-number
# sniffers (libmagic, imghdr-style checks) to call the body a JPEG.
JPEG_HEADER = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
JPEG_END = b"\xff\xd9"


def image_body(size: int = 2048) -> bytes:
    """A fake JPEG of exactly ``size`` bytes: JPEG magic, the marker, padding.

    The padding is a repeating byte ramp rather than zeros so that the body
    does not shrink to almost nothing under compression.
    """
    fixed = len(JPEG_HEADER) + len(MARKER_BYTES) + len(JPEG_END)
    if size < fixed:
        raise ValueError(f"an image body needs at least {fixed} bytes, got {size}")
    padding = bytes(range(256)) * (size // 256 + 1)
    return JPEG_HEADER + MARKER_BYTES + padding[: size - fixed] + JPEG_END


def html_body(title: str = "simnet page", text: str = "") -> bytes:
    """A small UTF-8 HTML document whose body contains the marker."""
    return (
        "<!doctype html>\n"
        f"<html><head><title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        f'<p class="marker">{MARKER}</p></body></html>\n'
    ).encode()


def contains_marker(data: bytes | str) -> bool:
    """Whether ``data`` contains the marker."""
    return (MARKER_BYTES if isinstance(data, bytes) else MARKER) in data


def files_containing_marker(roots: Path | str | Iterable[Path | str]) -> list[Path]:
    """Every regular file under ``roots`` (files or directories) holding the marker."""
    if isinstance(roots, (str, Path)):
        roots = [roots]
    found = []
    for root in map(Path, roots):
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        found.extend(p for p in candidates if p.is_file() and MARKER_BYTES in p.read_bytes())
    return found
