"""The record of a refused network access, its exception, and its log file."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from pathlib import Path

LOOPBACK_RULE = "tests may only reach loopback: 127.0.0.0/8, ::1 and localhost names"


@dataclasses.dataclass(frozen=True)
class Violation:
    """One network access the guard refused."""

    operation: str  # the guarded call: "connect", "sendto", "getaddrinfo", ...
    host: str  # the destination or name, as the caller gave it
    port: int | str | None  # None for lookups that take no port
    reason: str  # completes the sentence "<host> ..."
    context: str  # who asked: a test node id, or a subprocess and its test
    stack: tuple[str, ...] = ()  # innermost caller frames: finds swallowed attempts

    @property
    def destination(self) -> str:
        if self.port is None:
            return self.host
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def summary(self) -> str:
        return (
            f"network guard refused {self.operation}({self.destination}) "
            f"in {self.context}: {self.host} {self.reason}; {LOOPBACK_RULE}"
        )

    def report(self) -> str:
        """The summary plus where the call came from, for failure reports."""
        return "\n".join([self.summary(), *(f"    at {frame}" for frame in self.stack)])

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, line: str) -> Violation:
        fields = json.loads(line)
        fields["stack"] = tuple(fields.get("stack", ()))
        return cls(**fields)


class NetworkGuardViolation(ConnectionRefusedError):
    """Raised in place of a refused network call, before anything is sent.

    A ConnectionRefusedError carrying errno ECONNREFUSED, so that library code
    handles it as an ordinary unreachable peer (Twisted, for one, reads
    ``args[0]`` as the errno) rather than crashing in an unusual way. Libraries
    may swallow it; the guard has recorded the violation before raising.
    """

    def __init__(self, violation: Violation) -> None:
        super().__init__(errno.ECONNREFUSED, violation.summary())
        self.violation = violation

    def __reduce__(self):
        # OSError pickles as (errno, strerror), which this __init__ does not take.
        return type(self), (self.violation,)


class ViolationLog:
    """A JSON-lines file that guarded subprocesses append their violations to.

    Appends are single ``write`` calls to an ``O_APPEND`` descriptor, so lines
    from concurrent processes do not interleave. The reader keeps its offset and
    returns only lines it has not seen, ignoring a line still being written.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._read_offset = 0

    def append(self, violation: Violation) -> None:
        line = (violation.to_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def read_new(self) -> list[Violation]:
        try:
            with self.path.open("rb") as log:
                log.seek(self._read_offset)
                data = log.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self._read_offset += len(complete)
        return [Violation.from_json(line) for line in complete.decode().splitlines()]
