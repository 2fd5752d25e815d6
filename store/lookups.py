"""Leases on RDAP look-ups, so that workers sharing a store ask each network once.

A worker about to ask RDAP about a cache key (a network prefix or a domain, as
``network_cache`` keys them) takes the key's lease; another worker finding it taken
waits for the answer to appear in the cache. The holder renews its lease while it asks;
a lease left past ``until`` (its worker died, or stalled) may be taken by anyone: at
worst a network is asked twice, never not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.models import LookupLease
from store.writes import dialect_insert


def take(session: Session, key: str, worker: str, *, now: datetime, ttl: timedelta) -> bool:
    """Lease ``key`` to ``worker`` unless another worker holds it; True when it is ours.

    One statement settles a race: the insert, or an update of an expired lease only.
    """
    insert = dialect_insert(session, LookupLease).values(key=key, worker=worker, until=now + ttl)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["key"],
            set_={"worker": worker, "until": now + ttl},
            where=LookupLease.until < now,
        )
    )
    holder = session.scalar(select(LookupLease.worker).where(LookupLease.key == key))
    return holder == worker


def renew(session: Session, key: str, worker: str, *, until: datetime) -> None:
    """Extend ``worker``'s lease on ``key`` to ``until``, if it still holds it."""
    session.execute(
        update(LookupLease)
        .where(LookupLease.key == key, LookupLease.worker == worker)
        .values(until=until)
    )


def give_back(session: Session, key: str, worker: str) -> None:
    """End ``worker``'s lease on ``key``, if it still holds it."""
    session.execute(delete(LookupLease).where(LookupLease.key == key, LookupLease.worker == worker))
