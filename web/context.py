"""What every handler needs: the settings, and the store on a worker thread.

The store is synchronous SQLAlchemy; ``in_store`` runs a function on one transaction in
Starlette's thread pool, so a slow query never stalls the event loop for other requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from settings import Settings
from store.db import Store

T = TypeVar("T")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def store_of(request: Request) -> Store:
    return request.app.state.store


async def in_store(request: Request, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(session, *args, **kwargs)`` in one transaction, on a worker thread."""
    store = store_of(request)

    def run() -> T:
        with store.session() as session:
            return work(session, *args, **kwargs)

    return await run_in_threadpool(run)


async def in_thread(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking work that is not one transaction (statistics, file reading)."""
    return await run_in_threadpool(work, *args, **kwargs)
