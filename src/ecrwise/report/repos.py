"""Rendering the repository inventory: JSON, CSV, table, and the playbook's classic CSV."""
from __future__ import annotations

import sys
from typing import Any

from ecrwise.analysis.inventory import Inventory, RepoRow
from ecrwise.report.output import (Column, csv_writer, dump_csv, human_bytes, human_time, human_usd, iso, rich_table,
                                   stdout_console, usd)
from ecrwise.report.render import Result, View, view

CSV_COLUMNS = ["account", "region", "repository", "images", "tagged_images", "untagged_images", "stored_bytes",
               "naive_bytes", "monthly_cost_usd", "last_pushed_at", "last_pulled_at", "pulls_30d",
               "lifecycle_policy", "above_median"]


def item(r: RepoRow) -> dict[str, Any]:
    return {
        "account": r.account, "region": r.region, "repository": r.repository,
        "images": r.images, "tagged_images": r.tagged_images, "untagged_images": r.untagged_images,
        "referrers": r.referrers, "unknown_images": r.unknown_images,
        "standard_bytes": r.standard_bytes, "archive_bytes": r.archive_bytes,
        "stored_bytes": r.stored_bytes, "naive_bytes": r.naive_bytes,
        "monthly_cost_usd": usd(r.monthly_cost),
        "last_pushed_at": iso(r.last_pushed_at), "last_pulled_at": iso(r.last_pulled_at),
        "last_pulled_source": r.last_pulled_source,
        "pulls_30d": r.pulls_30d, "lifecycle_policy": r.lifecycle_policy, "above_median": r.above_median,
        "tags": r.tags, "arithmetic": r.arithmetic,
    }


def totals(inv: Inventory) -> dict[str, Any]:
    t = inv.totals
    return {
        "repositories": t["repositories"], "images": t["images"], "stored_bytes": t["stored_bytes"],
        "naive_bytes": t["naive_bytes"], "monthly_cost_usd": usd(t["monthly_cost"]),
        "median_monthly_cost_usd": usd(t["median_monthly_cost"]),
        "repositories_above_median": len(t["above_median"]), "above_median": t["above_median"],
    }


def result(inv: Inventory, rows: list[RepoRow], snapshot: dict[str, Any], warnings: list[str],
           title: str | None) -> Result:
    """The `repos` result: one item per repository row (sorted, cut to --top by the caller)."""
    return Result("repos", [item(r) for r in rows], totals(inv), warnings, snapshot, title, data=(inv, rows))


def _table(res: Result) -> None:
    inv, rows = res.data
    print_table(inv, rows, res.title)
    from ecrwise.report.output import print_warnings

    print_warnings(res.warnings, say_more=True)


def print_table(inv: Inventory, rows: list[RepoRow], title: str | None = None) -> None:
    cols = [
        Column("repository", "repository"),
        Column("region", "region"),
        Column("images", "images", str, "right"),
        Column("untagged_images", "untagged", str, "right"),
        Column("stored_bytes", "stored", human_bytes, "right"),
        Column("naive_bytes", "naive sum", human_bytes, "right"),
        Column("monthly_cost_usd", "$/month", human_usd, "right"),
        Column("last_pushed_at", "last push", lambda s: s[:10], "left"),
        Column("last_pulled_at", "last pull", lambda s: s[:10], "left"),
        Column("pulls_30d", "pulls 30d", lambda n: f"{n:,}", "right"),
        Column("lifecycle_policy", "policy", lambda b: "yes" if b else "no"),
        Column("above_median", "> median", lambda b: "▲" if b else ""),
    ]
    t = totals(inv)
    footer = {"images": t["images"], "stored_bytes": t["stored_bytes"], "naive_bytes": t["naive_bytes"],
              "monthly_cost_usd": t["monthly_cost_usd"]}
    console = stdout_console()
    console.print(rich_table(title, cols, [item(r) for r in rows], footer))
    console.print(f"{t['repositories']} repositories · median {human_usd(t['median_monthly_cost_usd'])}/month · "
                  f"{t['repositories_above_median']} above the median (start there) · billed storage counts each "
                  f"distinct layer once; 'naive sum' is what a per-image sum reports")


def print_csv(rows: list[RepoRow]) -> None:
    dump_csv((item(r) for r in rows), CSV_COLUMNS)


def playbook_cost(x: float) -> str:
    """The playbook script's cost format (bc output: '.03', '1.99', '0'), but rounded to the cent."""
    cents = round(x * 100)
    if cents == 0:
        return "0"
    s = f"{cents / 100:.2f}"
    return s[1:] if s.startswith("0.") else s


def print_playbook(rows: list[RepoRow]) -> None:
    """`Repositories,Size,Expected Cost`, as the FinOps playbook's script prints it: size in MB (2^20
    bytes, truncated), cost in USD. The figures are the billed (distinct-layer) ones."""
    w = csv_writer(sys.stdout)
    w.writerow(["Repositories", "Size", "Expected Cost"])
    for r in rows:
        w.writerow([r.repository, f"{r.stored_bytes // 2**20} MB", playbook_cost(r.monthly_cost)])


view(View("repos", table=_table, csv_columns=tuple(CSV_COLUMNS),
          extra={"playbook": lambda res: print_playbook(res.data[1])}))

__all__ = ["result", "item", "totals", "print_table", "print_csv", "print_playbook", "human_time"]
