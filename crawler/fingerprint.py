"""The streaming fingerprint: a body goes through SHA-256 as it arrives, and is dropped.

The fingerprint is of the *decoded* body, after any Content-Encoding, so that gzip on
the wire does not change it. Decoding is capped too, so a small compressed body cannot
expand without bound. Past MAX_BODY_BYTES of decoded body the download stops, and the
hash covers the part received.
"""

from __future__ import annotations

import hashlib
import zlib


class Fingerprint:
    """SHA-256 and length of a decoded body, fed chunk by chunk."""

    __slots__ = ("_cap", "_decoder", "_hash", "broken", "length", "truncated")

    def __init__(self, content_encoding: bytes | None, cap: int) -> None:
        self._hash = hashlib.sha256()
        self._cap = cap
        self._decoder = _decoder(content_encoding)
        self.length = 0
        self.truncated = False
        self.broken = False  # the encoding could not be decoded: hashing the raw bytes

    def feed(self, chunk: bytes) -> bool:
        """Take the next chunk off the wire; False once the cap is reached."""
        if self._decoder is not None and not self.broken:
            try:
                chunk = self._decoder.decompress(chunk, self._cap - self.length + 1)
            except zlib.error:
                self.broken = True
        room = self._cap - self.length
        if len(chunk) > room:
            chunk, self.truncated = chunk[:room], True
        self._hash.update(chunk)
        self.length += len(chunk)
        if self._decoder is not None and not self.broken and self._decoder.unconsumed_tail:
            # More decoded output is waiting than the cap allows.
            self.truncated = True
        return not self.truncated

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _decoder(content_encoding: bytes | None):
    encoding = (content_encoding or b"").strip().lower()
    if encoding in (b"gzip", b"x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == b"deflate":
        return zlib.decompressobj()
    return None
