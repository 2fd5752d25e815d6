"""``ntd stats``: time-to-removal statistics that count what is still online."""

from __future__ import annotations

import json

import click

from cli import main
from cli.context import Context
from cli.display import console
from stats.units import duration, share

BREAKDOWNS = {
    "provider": "by_provider",
    "country": "by_country",
    "month": "by_month",
    "category": "by_category",
}
LABELS = {
    "provider": ("asn", "org"),
    "country": ("country",),
    "month": ("month",),
    "category": ("category",),
}


@main.command()
@click.option("--by", "by", type=click.Choice(list(BREAKDOWNS)), help="Break the figures down.")
@click.option("--json", "as_json", is_flag=True, help="Every figure and breakdown, as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="One row per group, for spreadsheets.")
def stats(by: str | None, as_json: bool, as_csv: bool):
    """Time to removal, Kaplan–Meier: reports still online count as censored, not missing.

    Measured from the first notice (and from the report, in the *_after_report figures).
    Groups with fewer than MIN_GROUP notified reports show no estimate.
    """
    from stats.export import to_csv
    from stats.query import figures

    if as_json and as_csv:
        raise click.UsageError("choose --json or --csv, not both")
    ctx = Context()
    result = figures(ctx.store, ctx.settings.min_group)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif as_csv:
        click.echo(to_csv(result), nl=False)
    else:
        _print(result, by)


def _print(result: dict, by: str | None) -> None:
    from rich.table import Table

    out = console()
    out.print(
        f"[bold]{result['total']}[/bold] reports: {result['online']} online, "
        f"{result['removed']} removed, {result['unreachable']} unreachable; "
        f"{result['notified']} notified; never seen online: {share(result['never_seen_online'])}; "
        f"reappearances: {result['reappearances']}"
    )
    out.print(
        f"notices: {result['notices_bounced']} bounced, {result['notices_answered']} answered; "
        f"median time to first response: {duration(result['median_time_to_first_response_s'])}"
    )
    side = result["submissions"]
    if side["received"]:
        out.print(
            f"public reports: {side['received']} URLs, {side['already_tracked']} already "
            f"tracked, {side['pending']} pending; {share(side['actionable_share'])} of those "
            f"assessed actionable; median to assessment "
            f"{duration(side['median_time_to_assessment_s'])}, from assessment to first notice "
            f"{duration(side['median_time_from_assessment_to_first_notice_s'])}"
        )
    table = Table(
        "",
        "notified",
        "median",
        "p90",
        "≤24h",
        "≤72h",
        "≤7d",
        "median from report",
        title="Time to removal after first notice",
        box=None,
        padding=(0, 1),
    )
    table.add_row("all", *_cells(result))
    if by:
        for entry in result[BREAKDOWNS[by]]:
            label = " ".join(str(entry[k]) for k in LABELS[by] if entry.get(k) is not None)
            table.add_row(label or "unknown", *_cells(entry))
    out.print(table)
    out.print(f"Groups under MIN_GROUP ({result['min_group']}) notified reports show no estimate.")


def _cells(entry: dict) -> list[str]:
    within = entry["removed_within"]
    return [
        str(entry["notified"]),
        duration(entry["median_time_to_removal_s"]),
        duration(entry["p90_time_to_removal_s"]),
        share(within["24h"]),
        share(within["72h"]),
        share(within["7d"]),
        duration(entry["median_time_to_removal_after_report_s"]),
    ]
