"""Rendering `ecrwise lifecycle`: lint issues (lines, CSV, JSON) and simulation results (table, CSV with or
without every acted-on image, JSON). No evaluation here: results come from `ecrwise.lifecycle`.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Sequence

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecrwise.lifecycle.simulate import SimulationResult, iso
from ecrwise.pricing.book import Price
from ecrwise.report import sanitize
from ecrwise.report.json_text import Streamed
from ecrwise.report.output import csv_writer, human_bytes, print_warnings
from ecrwise.report.render import Result, View, view

LINT_CSV_COLUMNS = ("file", "severity", "code", "path", "message")


def lint_result(rows: list[dict[str, Any]], files: list[str], errors: int, warnings: int, *,
                snapshot: dict[str, Any] | None = None) -> Result:
    return Result("lifecycle-lint", rows, {"files": len(files), "errors": errors, "warnings": warnings},
                  snapshot=snapshot, data=files)


def _lint_lines(res: Result) -> None:
    for f in res.data:
        mine = [r for r in res.items if r["file"] == sanitize.text(f)]
        if not mine:
            typer.echo(sanitize.text(f"{f}: valid"))
        for r in mine:
            typer.echo(f"{r['file']}: {r['severity']}: {r['path']}: {r['message']} [{r['code']}]")
            d = r.get("detail") or {}
            suggested = d.get("suggested_policy", {}).get("rules") or d.get("suggested_rules")
            if suggested:
                typer.echo("    suggested " + ("policy (renumbered):" if "suggested_policy" in d else "rules:"))
                for sr in suggested:
                    typer.echo("      " + sanitize.text(json.dumps(sr)))
    typer.echo(f"{res.totals['errors']} error(s), {res.totals['warnings']} warning(s) in {res.totals['files']} file(s)")


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def simulation_result(result: SimulationResult, *, standard_price: Price, archive_price: Price,
                      snapshot: dict[str, Any] | None = None, extra_warnings: Sequence[str] = (),
                      list_images: bool = False, restore_price: Price | None = None) -> Result:
    totals = result.totals()
    # Each repository's row (its images listed) is made as the JSON is written, then dropped.
    items = Streamed(lambda: (r.to_dict() for r in result.items), len(result.items))
    totals["prices"] = {"standard": standard_price.as_dict(), "archive": archive_price.as_dict()}
    if restore_price is not None:
        totals["prices"]["restore"] = restore_price.as_dict()
    return Result("lifecycle-simulation", items, totals, list(extra_warnings) + list(result.warnings), snapshot,
                  data=result, options={"standard_price": standard_price, "archive_price": archive_price,
                                        "list_images": list_images})


def _simulation_csv(res: Result) -> None:
    result, list_images = res.data, res.options["list_images"]
    w = csv_writer(sys.stdout)
    if list_images:
        w.writerow(["repository", "action", "rule_priority", "digest", "tags", "pushed_at"])
        for r in result.items:
            for action, rows in (("expire", r.evaluation.expire), ("transition", r.evaluation.transition)):
                for im, prio in rows:
                    w.writerow([r.repository, action, prio, im.digest, " ".join(im.tags), iso(im.pushed_at)])
    else:
        w.writerow(["repository", "has_policy", "images", "expire_count", "transition_count", "kept",
                    "stored_bytes", "freed_bytes", "archived_bytes", "archive_freed_bytes",
                    "monthly_savings_usd"])
        for r in result.items:
            d = r.to_dict(images=False)
            w.writerow([d["repository"], str(d["has_policy"]).lower(), d["images"], d["expire_count"],
                        d["transition_count"], d["kept"], d["stored_bytes"], d["freed_bytes"],
                        d["archived_bytes"], d["archive_freed_bytes"], f"{d['monthly_savings_usd']:.2f}"])


def _simulation_table(res: Result) -> None:
    result, warnings = res.data, res.warnings
    standard_price, archive_price = res.options["standard_price"], res.options["archive_price"]
    list_images = res.options["list_images"]
    con = Console()
    t = Table(title=f"Lifecycle simulation at {iso(result.at)}", title_justify="left")
    t.add_column("Repository", overflow="fold")
    marked = any(r.in_use_images is not None for r in result.items)
    protected = any(r.unprotected is not None for r in result.items)
    for col in ("Images", "Expire", "Transition", "Kept", "Stored", "Freed", "$/month",
                *(["In use", "In use hit" + (" (kept)" if protected else "")] if marked else [])):
        t.add_column(col, justify="right", no_wrap=True)
    for r in result.items:
        d = r.to_dict(images=False)
        name = Text(sanitize.text(r.repository or "(no repository)"))
        if not r.has_policy:
            name.append(" (no policy)", style="dim")
        hit = Text(str(len(r.in_use_hits)), style="bold red" if r.in_use_hits and r.unprotected is None else "")
        t.add_row(name, str(d["images"]), str(d["expire_count"]), str(d["transition_count"]), str(d["kept"]),
                  human_bytes(d["stored_bytes"]), human_bytes(d["freed_bytes"]), f"{d['monthly_savings_usd']:.2f}",
                  *([str(r.in_use_images), hit] if marked else []))
    tot = result.totals()
    t.add_section()
    t.add_row("[bold]total[/bold]", str(tot["images"]), str(tot["expire_count"]), str(tot["transition_count"]),
              str(tot["kept"]), human_bytes(tot["stored_bytes"]), human_bytes(tot["freed_bytes"]),
              f"[bold]{tot['monthly_savings_usd']:.2f}[/bold]",
              *([str(tot["in_use_images"]), str(tot["in_use_acted_on"])] if marked else []))
    con.print(t)
    if protected and "without_protection" in tot:
        w = tot["without_protection"]
        con.print(f"With protection (as `lifecycle plan` rolls it out). Without it the policy would expire "
                  f"{w['expire_count']} and archive {w['transition_count']} image(s), {tot['in_use_acted_on']} of "
                  f"them in use, freeing {human_bytes(w['freed_bytes'])} (${w['monthly_savings_usd']:.2f}/month).",
                  highlight=False, markup=False)
    con.print(sanitize.text(f"Prices ({standard_price.region}, as of {standard_price.as_of}): standard "
                              f"${standard_price.usd}/GB-month, archive ${archive_price.usd}/GB-month; "
                              f"source {standard_price.source}"), highlight=False, markup=False)
    con.print("Freed = bytes of layers no remaining standard image references (shared layers free nothing).",
              highlight=False)
    ae = tot.get("archive_economics")
    if ae and ae["transitioned_images"]:
        con.print(f"Archive: {ae['transitioned_images']} image(s) transitioned, {ae['likely_restored_images']} "
                  f"pulled in the last {ae['minimum_days']} days (likely restored). Over the {ae['minimum_days']}-day "
                  f"minimum: gross ${ae['transition_savings_window_usd']:.2f} - forgone "
                  f"${ae['likely_restored_savings_forgone_usd']:.2f} - minimum-duration charge "
                  f"${ae['minimum_duration_charge_usd']:.2f} - restores ${ae['restore_charge_usd']:.2f} = net "
                  f"{'-' if ae['net_window_usd'] < 0 else ''}${abs(ae['net_window_usd']):.2f}", highlight=False,
                  markup=False)
    if list_images:
        for r in result.items:
            ev = r.evaluation
            if not ev.expire and not ev.transition and not ev.held and not r.in_use_hits:
                continue
            it = Table(title=sanitize.title(r.repository or "(no repository)"), title_justify="left")
            for col in ("Action", "Rule", "Digest", "Tags", "Pushed"):
                it.add_column(col)
            for action, rows in (("expire", ev.expire), ("transition", ev.transition), ("held by index", ev.held)):
                for im, prio in rows:
                    it.add_row(action, str(prio), Text(sanitize.text(_short(im.digest))),
                               Text(sanitize.text(", ".join(im.tags) or "-")), iso(im.pushed_at))
            for h in r.in_use_hits:
                it.add_row(Text(f"IN USE: {h.action}" + (" (kept by protection)" if r.unprotected else ""),
                                style="bold red"), str(h.rule_priority), Text(sanitize.text(_short(h.image.digest))),
                           Text(sanitize.text(", ".join(h.image.tags) or "-")),
                           Text(sanitize.text("; ".join(h.reasons))))
            con.print(it)
    print_warnings(warnings, limit=None, console=con)


view(View("lifecycle-lint", table=_lint_lines, csv_columns=LINT_CSV_COLUMNS))
view(View("lifecycle-simulation", table=_simulation_table, extra={"csv": _simulation_csv}))
