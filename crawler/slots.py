"""Fetch slots: CONCURRENCY fetches in flight per worker, CONCURRENCY_PER_HOST to one host.

The verify spider keeps these limits itself rather than leaving them to Scrapy's
scheduler and downloader. A check holds a slot from its first request to its last
answer (a redirect is fetched in its check's slot); a soft-404 probe holds one while it
is fetched, and is served before any check that waits. "Host" is the download slot key,
the registered domain.

Scrapy's downloader has a per-domain limit of its own, but it counts a request as
transferring only once the task that downloads it runs: when a slot frees and several
requests wait in it, every one of them is started (Scrapy 2.19), and a host got one
more fetch than CONCURRENCY_PER_HOST. Given no more than the limit, it never queues.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class FetchSlots(Generic[T]):
    """Waiting work per host, started in turn, one host after another, as slots free.

    ``start(host, item)`` is called for each item when it may be fetched: it then holds
    a slot of ``host`` until ``release(host)``.
    """

    def __init__(self, total: int, per_host: int, start: Callable[[str, T], None]) -> None:
        if total < 1 or per_host < 1:
            raise ValueError(f"fetch slots need a positive size, not {total} and {per_host}")
        self.free = total
        self.per_host = per_host
        self._start = start
        self._busy: Counter[str] = Counter()  # slots held, by host
        self._waiting: dict[str, deque[T]] = {}  # work not started yet, by host
        self._turns: deque[str] = deque()  # hosts with work waiting and a slot free
        self._in_turn: set[str] = set()
        self._probes: deque[tuple[str, asyncio.Future]] = deque()

    def __len__(self) -> int:
        """How much work waits."""
        return sum(len(queue) for queue in self._waiting.values())

    def busy(self, host: str) -> int:
        """The slots ``host`` holds."""
        return self._busy[host]

    def add(self, host: str, item: T) -> None:
        """Queue work for ``host``; nothing starts until start_next()."""
        self._waiting.setdefault(host, deque()).append(item)
        self._offer(host)

    def start_next(self) -> bool:
        """Start the next host's first waiting work if a slot is free; whether it did."""
        while self.free and self._turns:
            host = self._turns.popleft()
            self._in_turn.discard(host)
            queue = self._waiting.get(host)
            if not queue or not self._room(host):
                continue  # its turn came after it filled up, or its work was dropped
            item = queue.popleft()
            if not queue:
                del self._waiting[host]
            self._take(host)
            self._offer(host)
            self._start(host, item)
            return True
        return False

    def release(self, host: str) -> None:
        """A fetch of ``host`` is over: its slot goes to a probe that waits for one, or
        back to the pool. The caller starts the next work (start_next)."""
        assert self._busy[host] > 0, f"{host} holds no slot"
        self._busy[host] -= 1
        if not self._busy[host]:
            del self._busy[host]
        self.free += 1
        self._serve_probes()
        self._offer(host)

    async def acquire(self, host: str) -> None:
        """A slot of ``host`` for a probe: at once if one is free, else the first to free."""
        waiter = asyncio.get_running_loop().create_future()
        self._probes.append((host, waiter))
        self._serve_probes()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(host)  # handed over just as it was cancelled
                self.start_next()
            raise

    def drop(self) -> list[T]:
        """Forget the work that waits, and return it."""
        dropped = [item for queue in self._waiting.values() for item in queue]
        self._waiting.clear()
        self._turns.clear()
        self._in_turn.clear()
        return dropped

    def _room(self, host: str) -> bool:
        return self._busy[host] < self.per_host

    def _take(self, host: str) -> None:
        self.free -= 1
        self._busy[host] += 1

    def _offer(self, host: str) -> None:
        """Give ``host`` a turn, if it has work waiting and a slot of its own free."""
        if host in self._waiting and host not in self._in_turn and self._room(host):
            self._turns.append(host)
            self._in_turn.add(host)

    def _serve_probes(self) -> None:
        for _ in range(len(self._probes)):
            host, waiter = self._probes.popleft()
            if waiter.done():
                continue  # cancelled while it waited
            if self.free and self._room(host):
                self._take(host)
                waiter.set_result(None)
            else:
                self._probes.append((host, waiter))
