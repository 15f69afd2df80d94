"""Rendering `ecrwise history`: one item per repository (its change between --from and --to, and its points),
the per-snapshot totals, CSV, and the two tables. No analysis here: everything comes from `analysis.history`.
"""
from __future__ import annotations

from typing import Any

from ecrwise.analysis.history import History
from ecrwise.report.output import (Column, human_bytes, human_usd, iso, print_warnings, rich_table, stdout_console,
                                   usd)
from ecrwise.report.render import Result, View, view

CSV_COLUMNS = ["account", "region", "repository", "status", "from_bytes", "to_bytes", "removed_bytes", "added_bytes",
               "net_bytes", "realised_savings_usd", "added_cost_usd"]


def history_items(h: History) -> list[dict[str, Any]]:
    """One item per repository of any snapshot: its change between --from and --to, and its points."""
    series = {(r.account, r.region, r.repository): r for r in h.repositories}
    items = []
    seen = set()
    for c in h.changes:
        seen.add(c.key)
        items.append({"account": c.account, "region": c.region, "repository": c.repository, "status": c.status,
                      "from_bytes": c.from_bytes, "to_bytes": c.to_bytes, "removed_bytes": c.removed_bytes,
                      "added_bytes": c.added_bytes, "net_bytes": c.net_bytes,
                      "realised_savings_usd": usd(c.realised_savings), "added_cost_usd": usd(c.added_cost),
                      "arithmetic": c.arithmetic, "points": _points(series.get(c.key))})
    for key, r in series.items():
        if key not in seen:  # existed only in snapshots between --from and --to (or outside them)
            items.append({"account": r.account, "region": r.region, "repository": r.repository,
                          "status": "outside-range", "from_bytes": 0, "to_bytes": 0, "removed_bytes": 0,
                          "added_bytes": 0, "net_bytes": 0, "realised_savings_usd": 0.0, "added_cost_usd": 0.0,
                          "arithmetic": {}, "points": _points(r)})
    return items


def _points(r: Any) -> list[dict[str, Any]]:
    if r is None:
        return []
    return [{"snapshot_id": sid, "stored_bytes": b, "monthly_cost_usd": usd(c)} for sid, (b, c) in sorted(r.points.items())]


def history_totals(h: History) -> dict[str, Any]:
    t = h.totals()
    return {
        "snapshots": [{"snapshot_id": s.snapshot_id, "taken_at": iso(s.taken_at), "repositories": s.repositories,
                       "images": s.images, "stored_bytes": s.stored_bytes, "naive_bytes": s.naive_bytes,
                       "monthly_cost_usd": usd(s.monthly_cost)} for s in h.snapshots],
        "from": t["from"], "to": t["to"], "from_taken_at": iso(t["from_taken_at"]),
        "to_taken_at": iso(t["to_taken_at"]),
        "from_bytes": t["from_bytes"], "to_bytes": t["to_bytes"], "removed_bytes": t["removed_bytes"],
        "added_bytes": t["added_bytes"], "net_bytes": t["net_bytes"],
        "realised_savings_usd": usd(t["realised_savings"]), "added_cost_usd": usd(t["added_cost"]),
        "from_monthly_cost_usd": usd(t["from_monthly_cost"]), "to_monthly_cost_usd": usd(t["to_monthly_cost"]),
        "repositories_removed": t["repositories_removed"], "repositories_added": t["repositories_added"],
    }


def result(h: History, prices: dict[str, Any], *, all_repositories: bool = False) -> Result:
    return Result("history", history_items(h), history_totals(h), list(h.warnings),
                  {"from": h.from_id, "to": h.to_id, "prices": prices}, data=h,
                  options={"all_repositories": all_repositories})


def _table(res: Result) -> None:
    h, items, totals, all_repositories = res.data, res.items, res.totals, res.options["all_repositories"]
    console = stdout_console()
    console.print(rich_table("Billed storage per snapshot", [
        Column("snapshot_id", "snapshot", str, "right"), Column("taken_at", "taken at (UTC)", lambda s: s[:16].replace("T", " ")),
        Column("repositories", "repositories", str, "right"), Column("images", "images", str, "right"),
        Column("stored_bytes", "billed", human_bytes, "right"), Column("naive_bytes", "per-image sum", human_bytes, "right"),
        Column("monthly_cost_usd", "$/month", human_usd, "right")], totals["snapshots"]))
    rows = [i for i in items if i["status"] != "outside-range" and (all_repositories or i["status"] != "unchanged")]
    console.print(rich_table(f"Realised between snapshot {h.from_id} and {h.to_id}", [
        Column("repository", "repository"), Column("region", "region"), Column("status", "status"),
        Column("from_bytes", "before", human_bytes, "right"), Column("to_bytes", "after", human_bytes, "right"),
        Column("removed_bytes", "gone", human_bytes, "right"), Column("added_bytes", "new", human_bytes, "right"),
        Column("realised_savings_usd", "realised $/mo", human_usd, "right")], rows,
        {k: totals[k] for k in ("from_bytes", "to_bytes", "removed_bytes", "added_bytes", "realised_savings_usd")}))
    r = totals
    console.print(f"{human_bytes(r['removed_bytes'])} no longer billed: {human_usd(r['realised_savings_usd'])}/month "
                  f"realised · {human_bytes(r['added_bytes'])} new ({human_usd(r['added_cost_usd'])}/month) · "
                  f"repositories: {len(r['repositories_removed'])} removed, {len(r['repositories_added'])} added · "
                  f"{sum(1 for i in items if i['status'] == 'unchanged')} unchanged (--all lists them)",
                  highlight=False)
    print_warnings(res.warnings, limit=None)


view(View("history", table=_table, csv_columns=tuple(CSV_COLUMNS)))
