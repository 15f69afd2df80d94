"""Rendering lifecycle rollout plans and what apply / restore / backup / protect did."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ecrwise.report.output import Column, human_bytes, human_usd, print_warnings, rich_table, stdout_console
from ecrwise.report.render import Result, View, render, view
from ecrwise.report.sanitize import styled, text


def plan_result(doc: dict[str, Any], out: Path | None) -> Result:
    """A rollout plan: its JSON is the plan document itself (what `lifecycle apply` reads back)."""
    return Result("lifecycle-plan", doc["items"], doc["totals"], doc["warnings"], doc.get("snapshot"),
                  document=doc, data=doc, options={"out": out})


def print_plan(doc: dict[str, Any], fmt: Any, out: Path | None) -> None:
    render(plan_result(doc, out), fmt)


def _plan_table(res: Result) -> None:
    doc, out = res.data, res.options["out"]
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
        console.print(text(f"left alone: {ex['region']}/{ex['repository']}: {ex['reason']}"), highlight=False,
                      markup=False)
    changing = [i for i in doc["items"] if i["action"] == "update"]
    for i in changing[:3]:
        console.print(styled("\n", (f"{i['region']}/{i['repository']}", "bold")), highlight=False)
        console.print(text(i["diff"]), highlight=False, markup=False)
    if len(changing) > 3:
        console.print(f"\n… and {len(changing) - 3} more repositories change the same way (see --format json).")
    console.print(f"\n{t['changing']} of {t['repositories']} repositories change; {t['in_use_saved_by_protection']}"
                  f" image(s) in use that the policy alone would expire or archive are protected by "
                  f"`{text(doc['protect_prefix'])}*` tags and a first rule that never fires.", highlight=False,
                  markup=False)
    if out:
        console.print(text(f"plan written to {out}; apply it with `ecrwise lifecycle apply {out} --apply`"),
                      highlight=False, markup=False)
    print_warnings(res.warnings, limit=None)


def outcomes_result(kind: str, outcomes: list[Any], backup: Path | None, *, applied: bool) -> Result:
    items = [o.as_dict() for o in outcomes]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    totals = {"repositories": len(items), **counts, "backup": str(backup) if backup else None, "applied": applied}
    return Result(kind, items, totals, title=kind, data=(outcomes, backup, counts, applied),
                  shape="lifecycle-outcomes")


def print_outcomes(kind: str, outcomes: list[Any], backup: Path | None, fmt: Any, *, applied: bool) -> None:
    render(outcomes_result(kind, outcomes, backup, applied=applied), fmt)


def _outcomes_table(res: Result) -> None:
    outcomes, backup, counts, applied = res.data
    items, kind = res.items, res.kind
    console = stdout_console()
    cols = [Column("repository", "repository"), Column("region", "region"), Column("status", "status"),
            Column("detail", "detail"), Column("tag_changes", "tags", lambda v: ", ".join(v) if v else "")]
    console.print(rich_table(kind, cols, items))
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to do"
    console.print(summary, highlight=False)
    if backup:
        console.print(text(f"backup: {backup} (undo with `ecrwise lifecycle restore {backup} --apply`)"),
                      highlight=False, markup=False)
    if not applied and any(o.status == "would-change" for o in outcomes):
        console.print("nothing was changed: run again with --apply", highlight=False)


def protection_result(changes: list[dict[str, Any]]) -> Result:
    return Result("lifecycle-protect", changes, {"add": sum(len(c["add"]) for c in changes),
                                                 "release": sum(len(c["release"]) for c in changes),
                                                 "kept_last_tag": sum(len(c["kept_last_tag"]) for c in changes)},
                  shape="lifecycle-protection-plan")


def print_protection(changes: list[dict[str, Any]], fmt: Any) -> None:
    render(protection_result(changes), fmt)


def _protection_table(res: Result) -> None:
    changes = res.items
    console = stdout_console()
    if not changes:
        console.print("protection is up to date")
        return
    for c in changes:
        console.print(f"{c['region']}/{c['repository']}: add {len(c['add'])}, release {len(c['release'])}"
                      + (f", keep {len(c['kept_last_tag'])} (the protection tag is the image's only tag; removing "
                         "it would delete the image)" if c["kept_last_tag"] else ""), highlight=False, markup=False)
    console.print("nothing was changed: run again with --apply")


def _plan_csv_rows(res: Result) -> list[dict[str, Any]]:
    return [{"account": i.get("account"), "region": i["region"], "repository": i["repository"], "action": i["action"],
             "has_policy": i["current_policy"] is not None, **{k: i["effect"][k] for k in PLAN_EFFECT_COLUMNS},
             "in_use": len(i["in_use"]), "in_use_saved_by_protection": len(i["in_use_acted_on_without_protection"]),
             "protect_tags": len(i["protect_tags"])} for i in res.items]


PLAN_EFFECT_COLUMNS = ("expire_count", "transition_count", "freed_bytes", "monthly_savings_usd")
# Apply, restore, backup and protect act before they print: every format their --format offers works here, so
# none can fail after the changes were made.
view(View("lifecycle-plan", table=_plan_table, csv_rows=_plan_csv_rows,
          csv_columns=("account", "region", "repository", "action", "has_policy", *PLAN_EFFECT_COLUMNS, "in_use",
                       "in_use_saved_by_protection", "protect_tags")))
view(View("lifecycle-outcomes", table=_outcomes_table,
          csv_columns=("account", "region", "repository", "status", "detail", "tag_changes")))
view(View("lifecycle-protection-plan", table=_protection_table,
          csv_columns=("account", "region", "repository", "add", "release", "kept_last_tag"),
          csv_rows=lambda res: [{**c, **{k: " ".join(f"{x['tag']}@{x['digest']}" for x in c[k])
                                         for k in ("add", "release", "kept_last_tag")}} for c in res.items]))
