"""An asyncio event loop on a background thread, driven from sync code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """Runs an event loop on a daemon thread so synchronous tests can host servers.

    Coroutines are submitted with :meth:`run`, which blocks until they finish
    and re-raises their exceptions in the calling thread.
    """

    def __init__(self, name: str = "simnet-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the loop thread; returns once the loop is running."""
        if self._thread is not None:
            raise RuntimeError("loop thread already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        loop.call_soon(ready.set)
        self._thread = threading.Thread(
            target=self._serve, args=(loop,), name=self._name, daemon=True
        )
        self._loop = loop
        self._thread.start()
        ready.wait()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 10.0) -> T:
        """Run ``coro`` on the loop and return its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("loop thread is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        """Cancel leftover tasks, stop the loop and join the thread."""
        if self._loop is None or self._thread is None:
            return
        self.run(self._cancel_other_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = None

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        loop.run_forever()
        # Here, on the loop's own thread: the caller of stop() may be running a loop of
        # its own (the demo runs on the crawler's), where this could not run.
        loop.run_until_complete(loop.shutdown_default_executor())

    @staticmethod
    async def _cancel_other_tasks() -> None:
        # Repeated because a task may start others while it unwinds.
        current = asyncio.current_task()
        while tasks := [t for t in asyncio.all_tasks() if t is not current]:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
