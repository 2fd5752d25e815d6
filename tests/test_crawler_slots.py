"""Fetch slots: CONCURRENCY in all, CONCURRENCY_PER_HOST to a host, hosts in turn, and
probes served first."""

from __future__ import annotations

import asyncio

import pytest

from crawler.slots import FetchSlots


class Fetches:
    """What FetchSlots started, and a way to end a fetch."""

    def __init__(self, total: int, per_host: int) -> None:
        self.started: list[tuple[str, str]] = []
        self.slots = FetchSlots(
            total, per_host, lambda host, item: self.started.append((host, item))
        )

    def add(self, host: str, *items: str) -> None:
        for item in items:
            self.slots.add(host, item)

    def start_all(self) -> None:
        while self.slots.start_next():
            pass

    def end(self, host: str) -> None:
        self.slots.release(host)
        self.slots.start_next()


def test_no_more_than_the_limits_start_and_hosts_take_turns():
    fetches = Fetches(total=4, per_host=2)
    fetches.add("a.test", "a1", "a2", "a3", "a4")
    fetches.add("b.test", "b1")
    fetches.add("c.test", "c1", "c2")
    fetches.start_all()
    # One from each host in turn, while a host has a slot of its own: never three of a.
    assert fetches.started == [
        ("a.test", "a1"),
        ("b.test", "b1"),
        ("c.test", "c1"),
        ("a.test", "a2"),
    ]
    assert fetches.slots.free == 0 and len(fetches.slots) == 3
    fetches.end("b.test")  # b has nothing left; c's turn comes before a's again
    assert fetches.started[-1] == ("c.test", "c2")
    fetches.end("c.test")  # a holds two: its third waits although a slot is free
    assert fetches.started[-1] == ("c.test", "c2") and fetches.slots.free == 1
    fetches.end("a.test")
    assert fetches.started[-1] == ("a.test", "a3")
    assert [fetches.slots.busy(h) for h in ("a.test", "b.test", "c.test")] == [2, 0, 1]


def test_a_probe_gets_the_first_slot_to_come_free():
    async def scenario():
        fetches = Fetches(total=2, per_host=2)
        fetches.add("a.test", "a1", "a2", "a3")
        fetches.start_all()
        probe = asyncio.ensure_future(fetches.slots.acquire("a.test"))
        await asyncio.sleep(0)
        assert not probe.done()  # both slots held
        fetches.end("a.test")  # the slot goes to the probe, not to a3
        await asyncio.sleep(0)
        assert probe.done() and fetches.started[-1] == ("a.test", "a2")
        fetches.end("a.test")
        assert fetches.started[-1] == ("a.test", "a3")

    asyncio.run(scenario())


def test_a_cancelled_probe_gives_its_slot_back():
    async def scenario():
        fetches = Fetches(total=1, per_host=1)
        fetches.add("a.test", "a1", "a2")
        fetches.start_all()
        probe = asyncio.ensure_future(fetches.slots.acquire("a.test"))
        await asyncio.sleep(0)
        probe.cancel()
        await asyncio.sleep(0)
        fetches.end("a.test")  # nobody waits for it any more: a2 starts
        assert fetches.started[-1] == ("a.test", "a2")

    asyncio.run(scenario())


def test_dropped_work_never_starts():
    fetches = Fetches(total=1, per_host=1)
    fetches.add("a.test", "a1", "a2")
    fetches.add("b.test", "b1")
    fetches.start_all()
    assert sorted(fetches.slots.drop()) == ["a2", "b1"]
    fetches.end("a.test")
    assert fetches.started == [("a.test", "a1")] and fetches.slots.free == 1


def test_sizes_must_be_positive():
    with pytest.raises(ValueError, match="positive size, not 0 and 8"):
        FetchSlots(0, 8, lambda host, item: None)
