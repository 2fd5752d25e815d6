"""Printing for people: rich on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def console(err: bool = False) -> Console:
    # highlight off: reported URLs must print exactly as stored, never re-styled.
    return Console(stderr=err, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (stderr); nothing at all otherwise."""
    out = console(err=True)
    if not out.is_terminal:
        yield lambda _n: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def print_report(view: dict[str, Any]) -> None:
    out = console()
    hold = view.get("police_hold")
    flags = " (paused)" if view["paused"] else ""
    flags += " (held for the police)" if hold and hold["active"] else ""
    out.print(f"[bold]Report {view['id']}[/bold]  {view['state']}{flags}")
    rows = [
        ("URL", view["url"]),
        ("Canonical", view["canonical_url"]),
        ("Ref", ", ".join(view["refs"]) or "-"),
        ("Category", view["category"]),
        ("Expected SHA-256", ", ".join(view["sha256"]) or "-"),
        ("Reason", view["reason"] or "-"),
        ("Queued", f"{view['created_at']} by {view['created_by']}"),
        ("Seen online", _seen(view)),
        ("Removed", view["removed_at"] or "-"),
        ("Next check", view["next_check_at"] or "never"),
        ("Hosting", "not resolved yet" if view["hosting"] is None else _hosting(view["hosting"])),
    ]
    if hold:
        rows.append(("Police hold", _hold(hold)))
    for submission in view.get("submissions", []):
        rows.append(("Public report", f"{submission['reference']} {submission['received_at']}"))
    for name, value in rows:
        out.print(f"  {name:<17} {escape(str(value))}")
    out.print(f"  Checks            {view['check_count']} in all, {len(view['checks'])} kept")
    if view["checks"]:
        table = Table(box=None, padding=(0, 1))
        for name, width in (("at", 20), ("outcome", 8), ("status", 6), ("ip", 15), ("bytes", 9)):
            table.add_column(name, no_wrap=True, min_width=width)
        table.add_column("sha256", no_wrap=True, overflow="ellipsis", max_width=14)
        for check in view["checks"]:
            table.add_row(
                check["at"],
                check["outcome"],
                _text(check["http_status"]),
                _text(check["ip"]),
                _text(check["bytes"]) + ("+" if check["truncated"] else ""),
                (check["sha256"] or "-")[:16],
            )
        out.print(table)
    out.print(f"  Notices           {len(view['notices']) or 'none'}")
    for notice in view["notices"]:
        when = notice["at"] or f"{notice['status']} since {notice['created_at']}"
        out.print(
            f"    {notice['id']:>6}  {notice['kind']:<10} {escape(notice['to'])}  {when}"
            f"  {escape(notice['reason'] or '')}"
        )


def _seen(view: dict[str, Any]) -> str:
    if not view["seen_online"]:
        return "no"
    return f"from {view['first_online_at']} to {view['last_online_at']}"


def _hosting(hosting: dict[str, Any]) -> str:
    shown = ("ip", "asn", "network", "org", "country", "abuse_email", "registrar", "cdn")
    return ", ".join(f"{k}={hosting[k]}" for k in shown if hosting.get(k))


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _hold(hold: dict[str, Any]) -> str:
    if hold["cleared_at"]:
        return f"since {hold['since']}, cleared {hold['cleared_at']} by {hold['cleared_by']}"
    if not hold["active"]:
        return f"since {hold['since']}, ended {hold['expires_at']} (POLICE_CLEARANCE_TIMEOUT)"
    until = f", at most until {hold['expires_at']}" if hold["expires_at"] else ""
    return f"since {hold['since']}: notices wait for the police{until}"
