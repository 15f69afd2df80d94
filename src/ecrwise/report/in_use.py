"""Rendering `ecrwise in-use`: one item per image in use (JSON), one CSV row each, and a table. No analysis here:
everything comes from `analysis.in_use.find_in_use`.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ecrwise.report.output import Column, print_warnings, rich_table, wide_console
from ecrwise.report.render import Result, View, view

CSV_COLUMNS = ("account", "region", "repository", "digest", "tags", "sources", "reasons")


def in_use_result(items: list[dict[str, Any]], snapshot: dict[str, Any], warnings: list[str],
                  source_names: list[str]) -> Result:
    per_source = Counter(s for i in items for s in i["sources"])
    totals = {"images": len(items),
              "repositories": len({(i["account"], i["region"], i["repository"]) for i in items}),
              "by_source": {name: per_source.get(name, 0) for name in source_names}}
    return Result("in-use", items, totals, list(warnings), snapshot,
                  title=f"Images in use · snapshot {snapshot['id']}")


def _csv_rows(res: Result) -> list[dict[str, Any]]:
    return [dict(i, tags=" ".join(i["tags"]), sources=" ".join(i["sources"]), reasons="; ".join(i["reasons"]))
            for i in res.items]


def _reasons(reasons: list[str]) -> str:
    shown = "; ".join(reasons[:3])
    return shown + (f"; … {len(reasons) - 3} more" if len(reasons) > 3 else "")


def _table(res: Result) -> None:
    cols = [Column("repository", "repository"), Column("region", "region"),
            Column("digest", "digest", lambda d: d[:19] + "…"), Column("tags", "tags", lambda t: ", ".join(t) or "-"),
            Column("sources", "sources", ", ".join), Column("reasons", "why in use", _reasons)]
    console = wide_console()
    console.print(rich_table(res.title, cols, res.items))
    by = ", ".join(f"{n} {c}" for n, c in res.totals["by_source"].items() if c)
    console.print(f"{res.totals['images']} image(s) in use in {res.totals['repositories']} repositories"
                  + (f" (by source: {by})" if by else ""), markup=False, highlight=False)
    print_warnings(res.warnings)


view(View("in-use", table=_table, csv_columns=CSV_COLUMNS, csv_rows=_csv_rows))
