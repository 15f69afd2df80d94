"""Rendering lifecycle rollout plans and what apply / restore / backup / protect did."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ecrwise.report.output import (Column, dump_json, envelope, human_bytes, human_usd, rich_table,
                                   stderr_console, stdout_console)


def print_plan(doc: dict[str, Any], fmt: Any, out: Path | None) -> None:
    if fmt.value == "json":
        dump_json(doc)
        return
    console = stdout_console()
    rows = []
    for i in doc["items"]:
        e = i["effect"]
        rows.append({"repository": f"{i['region']}/{i['repository']}", "action": i["action"],
                     "current": "none" if i["current_policy"] is None else "yes",
                     "expire": e["expire_count"], "transition": e["transition_count"], "freed": e["freed_bytes"],
                     "savings": e["monthly_savings_usd"], "in_use": len(i["in_use"]),
                     "saved": len(i["in_use_acted_on_without_protection"]), "tags": len(i["protect_tags"])})
    cols = [Column("repository", "repository"), Column("action", "action"), Column("current", "policy now"),
            Column("expire", "expire", str, "right"), Column("transition", "archive", str, "right"),
            Column("freed", "freed", human_bytes, "right"), Column("savings", "$/month", human_usd, "right"),
            Column("in_use", "in use", str, "right"),
            Column("saved", "in use the policy would hit", str, "right"),
            Column("tags", "tags to add", str, "right")]
    t = doc["totals"]
    console.print(rich_table(f"Lifecycle rollout plan · {doc['policy_source']}", cols, rows,
                             {"expire": t["expire"], "transition": t["transition"], "freed": t["freed_bytes"],
                              "savings": t["monthly_savings_usd"], "in_use": t["in_use_images"],
                              "saved": t["in_use_saved_by_protection"], "tags": t["protect_tags"]}))
    for ex in doc["excluded"]:
        console.print(f"left alone: {ex['region']}/{ex['repository']}: {ex['reason']}", highlight=False)
    changing = [i for i in doc["items"] if i["action"] == "update"]
    for i in changing[:3]:
        console.print(f"\n[bold]{i['region']}/{i['repository']}[/]", highlight=False)
        console.print(i["diff"], highlight=False, markup=False)
    if len(changing) > 3:
        console.print(f"\n… and {len(changing) - 3} more repositories change the same way (see --format json).")
    console.print(f"\n{t['changing']} of {t['repositories']} repositories change; {t['in_use_saved_by_protection']}"
                  f" image(s) in use that the policy alone would expire or archive are protected by "
                  f"`{doc['protect_prefix']}*` tags and a first rule that never fires.", highlight=False)
    if out:
        console.print(f"plan written to {out}; apply it with `ecrwise lifecycle apply {out} --apply`",
                      highlight=False)
    err = stderr_console()
    for w in doc["warnings"]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)


def print_outcomes(kind: str, outcomes: list[Any], backup: Path | None, fmt: Any, *, applied: bool) -> None:
    items = [o.as_dict() for o in outcomes]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    totals = {"repositories": len(items), **counts, "backup": str(backup) if backup else None, "applied": applied}
    if fmt.value == "json":
        dump_json(envelope(kind, None, items, totals, []))
        return
    console = stdout_console()
    cols = [Column("repository", "repository"), Column("region", "region"), Column("status", "status"),
            Column("detail", "detail"), Column("tag_changes", "tags", lambda v: ", ".join(v) if v else "")]
    console.print(rich_table(kind, cols, items))
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"
    console.print(summary, highlight=False)
    if backup:
        console.print(f"backup: {backup} (undo with `ecrwise lifecycle restore {backup} --apply`)", highlight=False)
    if not applied and any(o.status == "would-change" for o in outcomes):
        console.print("nothing was changed: run again with --apply", highlight=False)


def print_protection(changes: list[dict[str, Any]], fmt: Any) -> None:
    if fmt.value == "json":
        dump_json(envelope("lifecycle-protect", None, changes,
                           {"add": sum(len(c["add"]) for c in changes),
                            "release": sum(len(c["release"]) for c in changes),
                            "kept_last_tag": sum(len(c["kept_last_tag"]) for c in changes)}, []))
        return
    console = stdout_console()
    if not changes:
        console.print("protection is up to date")
        return
    for c in changes:
        console.print(f"{c['region']}/{c['repository']}: add {len(c['add'])}, release {len(c['release'])}"
                      + (f", keep {len(c['kept_last_tag'])} (the protection tag is the image's only tag; removing "
                         "it would delete the image)" if c["kept_last_tag"] else ""), highlight=False)
    console.print("nothing was changed: run again with --apply")
