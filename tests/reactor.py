"""One asyncio Twisted reactor for the whole test session, on a thread of its own.

A reactor cannot be restarted, so tests run every crawl pass on this one, as `ntd run`
does on its long-lived reactor: ``run(coroutine_function, *args)`` runs the coroutine on
the reactor's loop and returns its result to the calling test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

from scrapy.utils.reactor import install_reactor

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class ReactorThread:
    def __init__(self) -> None:
        install_reactor(REACTOR)
        from twisted.internet import reactor

        self.reactor = reactor
        self._thread = threading.Thread(target=self._run, name="twisted-reactor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.reactor._asyncioEventloop)
        self.reactor.run(installSignalHandlers=False)

    def run(self, function, *args, timeout: float = 120, **kwargs):
        result: concurrent.futures.Future = concurrent.futures.Future()

        def start() -> None:
            task = asyncio.ensure_future(function(*args, **kwargs))
            task.add_done_callback(
                lambda t: (
                    result.set_exception(t.exception())
                    if t.exception()
                    else result.set_result(t.result())
                )
            )

        self.reactor.callFromThread(start)
        return result.result(timeout=timeout)

    def stop(self) -> None:
        self.reactor.callFromThread(self.reactor.stop)
        self._thread.join(timeout=10)
