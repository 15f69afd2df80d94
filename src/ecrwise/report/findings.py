"""Rendering the ranked findings: JSON items, a Rich table, CSV, Markdown (a pull-request comment) and SARIF
2.1.0 (code-scanning dashboards). No analysis here: everything comes from `analysis.findings`.
"""
from __future__ import annotations

import json
from typing import Any

from ecrwise import __version__
from ecrwise.analysis.checks import Check
from ecrwise.analysis.findings import Ranked
from ecrwise.report import sanitize
from ecrwise.report.output import (SEVERITY_STYLE, Column, dump_csv, human_usd, print_warnings, rich_table, usd,
                                   wide_console)
from ecrwise.report.render import Result, View, view

CSV_COLUMNS = ["rank", "id", "check", "severity", "account", "region", "resource", "monthly_cost_usd",
               "monthly_savings_usd", "counted_savings_usd", "message", "recommendation", "fix", "evidence",
               "arithmetic"]
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# ecrwise severities → SARIF levels (SARIF has four: error, warning, note, none).
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def _usd(x: float | None) -> float | None:
    return None if x is None else usd(x)


def short_resource(resource: str) -> str:
    """A readable name for an ARN: `arn:aws:ecr:…:repository/app` → `app`, `…:service/prod/api` → `prod/api`."""
    if not resource.startswith("arn:"):
        return resource
    tail = resource.split(":", 5)[-1]
    kind, _, rest = tail.partition("/")
    return rest or kind


def finding_json(f: Any, *, ranked: Ranked | None = None, checks: dict[str, Check] | None = None) -> dict[str, Any]:
    """The one JSON form of a finding. `ranked` adds its rank, family, short name and counted savings (the
    `findings` command); `checks` adds the check's title and docs (`findings`, `ecs`); the network audit
    shows the bare finding."""
    c = checks.get(f.check) if checks is not None else None
    d: dict[str, Any] = {"id": f.id}
    if ranked is not None:
        d["rank"] = ranked.rank
    d["check"] = f.check
    if checks is not None:
        d["title"] = c.title if c else f.check
    if ranked is not None:
        d["family"] = ranked.family
    d.update(severity=f.severity, account=f.account, region=f.region, resource=f.resource)
    if ranked is not None:
        d["resource_name"] = short_resource(f.resource)
    d.update(message=f.message, monthly_cost_usd=_usd(f.monthly_cost_usd),
             monthly_savings_usd=_usd(f.monthly_savings_usd))
    if ranked is not None:
        d.update(counted_savings_usd=usd(ranked.counted_savings), overlaps=ranked.overlaps)
    d.update(evidence=f.evidence, arithmetic=f.arithmetic, recommendation=f.recommendation, fix=f.fix)
    if checks is not None:
        d["docs"] = c.docs if c else None
    return d


def item(it: Ranked, checks: dict[str, Check]) -> dict[str, Any]:
    return finding_json(it.finding, ranked=it, checks=checks)


def totals_json(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "findings": t["findings"], "by_severity": t["by_severity"],
        "monthly_savings_usd": usd(t["monthly_savings"]),
        "monthly_savings_listed_usd": usd(t["monthly_savings_listed"]),
        "monthly_savings_overlapping_usd": usd(t["monthly_savings_overlapping"]),
        "by_check": {k: {"family": v["family"], "findings": v["findings"],
                         "monthly_savings_usd": usd(v["monthly_savings"])} for k, v in t["by_check"].items()},
        "by_family": {k: usd(v) for k, v in t["by_family"].items()},
    }


def check_item(c: Check) -> dict[str, Any]:
    from ecrwise.analysis.checks import option_specs

    specs = option_specs()
    return {"id": c.id, "title": c.title, "family": c.family, "severity": c.severity, "reads": list(c.reads),
            "facts": list(c.facts), "docs": c.docs, "risk": c.risk, "recommendation": c.recommendation,
            "options": [specs[k].as_dict() for k in c.option_keys]}


# -- table ---------------------------------------------------------------------------------------------------

def print_table(items: list[dict[str, Any]], totals: dict[str, Any], title: str, warnings: list[str],
                shown_of: int | None = None) -> None:
    console = wide_console()
    cols = [
        Column("rank", "#", str, "right"),
        Column("severity", "severity", style=lambda s: SEVERITY_STYLE.get(s, "")),
        Column("check", "check"),
        Column("region", "region"),
        Column("resource_name", "resource"),
        Column("monthly_savings_usd", "saves $/mo", human_usd, "right"),
        Column("monthly_cost_usd", "costs $/mo", human_usd, "right"),
        Column("message", "what"),
    ]
    console.print(rich_table(title, cols, items))
    console.print(summary_line(totals, len(items), shown_of), highlight=False)
    print_warnings(warnings)


def summary_line(totals: dict[str, Any], shown: int, of: int | None = None) -> str:
    sev = ", ".join(f"{n} {s}" for s, n in totals["by_severity"].items()) or "none"
    shown_text = f"top {shown} of {of} shown · " if of is not None and of > shown else ""
    overlap = totals["monthly_savings_overlapping_usd"]
    return (f"{totals['findings']} finding(s): {sev} · {shown_text}savings "
            f"{human_usd(totals['monthly_savings_usd'])}/month counted once"
            + (f" ({human_usd(overlap)} of overlapping savings not added twice)" if overlap else "")
            + " · evidence and arithmetic: --format json")


# -- CSV -----------------------------------------------------------------------------------------------------

def print_csv(items: list[dict[str, Any]], out: Any = None) -> None:
    dump_csv(_csv_rows(Result("findings", items)), CSV_COLUMNS, out)


# -- Markdown (a pull-request comment) -----------------------------------------------------------------------

def md_text(text: Any) -> str:
    """Our own text (check recommendations) inside Markdown: no pipes, no newlines, no HTML. AWS-derived text
    goes through `sanitize.markdown`, which also escapes emphasis, links and images."""
    s = "" if text is None else str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown(items: list[dict[str, Any]], totals: dict[str, Any], snapshot: dict[str, Any] | None,
             top: int = 10) -> str:
    taken = str((snapshot or {}).get("taken_at") or "")[:16].replace("T", " ")
    when = f" · snapshot {snapshot['id']} ({taken} UTC)" if snapshot else ""
    sev = ", ".join(f"{n} {s}" for s, n in totals["by_severity"].items()) or "none"
    lines = [f"### ecrwise findings{when}", "",
             f"**{totals['findings']} finding(s)** ({sev}) · **{human_usd(totals['monthly_savings_usd'])}/month** "
             f"to save, counted once", ""]
    if items:
        lines += ["| # | Severity | Check | Resource | Region | Saves/month | What |",
                  "|---:|---|---|---|---|---:|---|"]
        for i in items[:top]:
            sev_text = f"**{i['severity']}**" if i["severity"] in ("critical", "high") else i["severity"]
            saves = human_usd(i["monthly_savings_usd"])
            if (i["monthly_savings_usd"] or 0) > i["counted_savings_usd"] and i["severity"] != "info":
                saves += " (overlap)"  # the same bytes as another finding; the total counts them once
            md = sanitize.markdown
            lines.append(f"| {i['rank']} | {sev_text} | `{i['check']}` | {md(i['resource_name'])} | "
                         f"{md(i['region'])} | {saves} | {md(i['message'])} |")
        lines.append("")
        by_check = [(k, v) for k, v in totals["by_check"].items()]
        lines += ["<details><summary>Findings and savings by check</summary>", "",
                  "| Check | Findings | Saves/month |", "|---|---:|---:|"]
        lines += [f"| `{k}` | {v['findings']} | {human_usd(v['monthly_savings_usd'])} |" for k, v in by_check]
        lines += ["", "</details>", ""]
        if len(items) > top:
            lines.append(f"_Top {top} of {len(items)} by savings. `ecrwise findings --format json` has the "
                         f"evidence, arithmetic and fix of each._")
        else:
            lines.append("_`ecrwise findings --format json` has the evidence, arithmetic and fix of each._")
    else:
        lines.append("No findings.")
    return "\n".join(lines) + "\n"


# -- SARIF 2.1.0 ---------------------------------------------------------------------------------------------

def rule_name(check_id: str) -> str:
    """`ecr.no-lifecycle-policy` → `EcrNoLifecyclePolicy` (SARIF's readable rule name)."""
    parts = check_id.replace(".", "-").split("-")
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def sarif(items: list[dict[str, Any]], checks: dict[str, Check], snapshot: dict[str, Any] | None, *,
          docs_base_url: str | None = None, artifact: str | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one rule per registered check, one result per finding.

    helpUri must be an absolute URI, so it is set only when `docs_base_url` says where the docs are served;
    the docs path is always in the rule's help text. AWS resources are not files: each result's location is
    logical (the ARN). GitHub code scanning rejects results without a physical location, so `artifact` (a
    file in the repository, e.g. the Terraform that manages the registry) is added as one when given.
    """
    ordered = list(checks.values())
    index = {c.id: i for i, c in enumerate(ordered)}
    rules = []
    for c in ordered:
        rule: dict[str, Any] = {
            "id": c.id, "name": rule_name(c.id),
            "shortDescription": {"text": c.title},
            "fullDescription": {"text": c.recommendation},
            "help": {"text": f"{c.recommendation} See {c.docs}.",
                     "markdown": f"{md_text(c.recommendation)}\n\nSee [{c.docs}]({c.docs})."},
            "defaultConfiguration": {"level": SARIF_LEVEL[c.severity]},
            "properties": {"tags": ["ecrwise", c.family], "family": c.family, "severity": c.severity,
                           "reads": list(c.reads), "docs": c.docs},
        }
        if docs_base_url:
            rule["helpUri"] = docs_base_url.rstrip("/") + "/" + c.docs
        rules.append(rule)
    results = []
    for i in items:
        location: dict[str, Any] = {"logicalLocations": [
            {"name": i["resource_name"], "fullyQualifiedName": i["resource"], "kind": "resource"}]}
        if artifact:
            location["physicalLocation"] = {"artifactLocation": {"uri": artifact}}
        saving = (f" Saves {human_usd(i['monthly_savings_usd'])}/month." if i["monthly_savings_usd"] else "")
        result: dict[str, Any] = {
            "ruleId": i["check"], "level": SARIF_LEVEL.get(i["severity"], "warning"),
            "message": {"text": f"{i['message'].rstrip('.')}.{saving} {i['recommendation']}"},
            "locations": [location],
            "partialFingerprints": {"ecrwiseFindingId/v1": i["id"]},
            "properties": {"severity": i["severity"], "account": i["account"], "region": i["region"],
                           "rank": i["rank"], "monthly_cost_usd": i["monthly_cost_usd"],
                           "monthly_savings_usd": i["monthly_savings_usd"],
                           "counted_savings_usd": i["counted_savings_usd"], "fix": i["fix"]},
        }
        if i["check"] in index:
            result["ruleIndex"] = index[i["check"]]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "ecrwise", "version": __version__, "semanticVersion": __version__,
                            "rules": rules}},
        "automationDetails": {"id": "ecrwise/findings/"},
        "results": results,
        "properties": {"snapshot": snapshot} if snapshot else {},
    }
    if snapshot and snapshot.get("taken_at"):
        run["invocations"] = [{"executionSuccessful": True, "endTimeUtc": snapshot["taken_at"]}]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


# -- the renderer layer's views -------------------------------------------------------------------------------

def result(items: list[dict[str, Any]], totals: dict[str, Any], warnings: list[str], snapshot: dict[str, Any],
           title: str, checks: dict[str, Check], *, top: int | None = None, docs_base_url: str | None = None,
           artifact: str | None = None) -> Result:
    """The `findings` result: `items` are every selected finding; JSON, CSV, the table and SARIF show the
    first `top`, the Markdown summary ranks its own top (default 10) and counts all."""
    shown = items[:top] if top else items
    return Result("findings", shown, totals, warnings, snapshot, title, data={"all": items, "checks": checks},
                  options={"top": top, "docs_base_url": docs_base_url, "artifact": artifact})


def _table(res: Result) -> None:
    print_table(res.items, res.totals, res.title or "", res.warnings, shown_of=len(res.data["all"]))


def _markdown(res: Result) -> str:
    return markdown(res.data["all"], res.totals, res.snapshot, top=res.options["top"] or 10)


def _sarif(res: Result) -> dict[str, Any]:
    return sarif(res.items, res.data["checks"], res.snapshot, docs_base_url=res.options["docs_base_url"],
                 artifact=res.options["artifact"])


def _csv_rows(res: Result) -> list[dict[str, Any]]:
    return [dict(i, evidence=json.dumps(i["evidence"], sort_keys=True, default=str, ensure_ascii=False),
                 arithmetic=json.dumps(i["arithmetic"], sort_keys=True, default=str, ensure_ascii=False))
            for i in res.items]


def default_text(value: Any) -> str:
    """An option's default as a person reads it: lists comma-separated, floats without trailing zeros."""
    return ", ".join(map(str, value)) if isinstance(value, (tuple, list)) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def checks_result(checks: list[Check]) -> Result:
    from ecrwise.analysis.checks import option_specs

    items = [check_item(c) for c in checks]
    specs = option_specs()
    return Result("checks", items, {"checks": len(items), "options": len(specs)},
                  title=f"{len(items)} registered checks", data=list(specs.values()))


def _checks_table(res: Result) -> None:
    console = wide_console()
    console.print(rich_table(res.title, [
        Column("id", "check"), Column("family", "family"), Column("severity", "default severity"),
        Column("title", "title"), Column("docs", "docs"),
        Column("options", "options", lambda opts: ", ".join(o["name"] for o in opts) or "-")], res.items))
    rows = [s.as_dict() | {"default": default_text(s.default), "flag": s.flag or "-", "checks": ", ".join(s.checks)}
            for s in res.data]
    console.print(rich_table(f"{len(rows)} check options (--set NAME=VALUE, --config FILE, or the flag)", [
        Column("name", "option"), Column("type", "type"), Column("default", "default"), Column("flag", "flag"),
        Column("help", "help"), Column("checks", "checks")], rows))


view(View("findings", table=_table, csv_columns=tuple(CSV_COLUMNS), csv_rows=_csv_rows, markdown=_markdown,
          sarif=_sarif))
view(View("checks", table=_checks_table,
          csv_columns=("id", "family", "severity", "title", "docs", "recommendation")))

__all__ = ["result", "checks_result", "item", "totals_json", "check_item", "print_table", "print_csv", "markdown", "sarif", "short_resource",
           "summary_line"]
