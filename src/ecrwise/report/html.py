"""`ecrwise report --html FILE`: one self-contained HTML page a FinOps lead can mail.

Everything is inline (styles and the small sort/filter script from `report/assets/`, charts as SVG), fonts
are the reader's system fonts, and a Content-Security-Policy forbids every fetch, so the file shows the same
offline, in a mail client or from an archive. Every value that comes from AWS (repository names, tags,
messages, evidence) is HTML-escaped; secrets were redacted before they reached the snapshot and stay so.
Each chart is also a table (a `<details>` under it), for screen readers and for copying into a spreadsheet.

Rendering only: the figures arrive computed (findings, inventory, pulls, history).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Iterable

from ecrwise import __version__
from ecrwise.analysis.history import History
from ecrwise.report import sanitize
from ecrwise.report.output import MOST_SEVERE_FIRST, human_bytes, human_usd

from ecrwise.pricing.book import GIB
SEVERITY_ORDER = MOST_SEVERE_FIRST
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


@dataclass
class ReportInputs:
    snapshot: dict[str, Any]
    prices: dict[str, Any]
    findings: list[dict[str, Any]]  # report.findings.item(), ranked
    totals: dict[str, Any]  # report.findings.totals_json()
    repositories: list[dict[str, Any]]  # report.repos.item(), by cost
    inventory_totals: dict[str, Any]  # report.repos.totals()
    services: list[dict[str, Any]]  # report.pulls.service_item()
    pulls_totals: dict[str, Any]
    history: History | None
    checks: dict[str, str] = field(default_factory=dict)  # check id → title
    warnings: list[str] = field(default_factory=list)
    top: int = 15
    generated_at: datetime | None = None
    # The latest imported month against the estimates (`billing reconcile`'s totals, ranked rows as_dict(),
    # adjustments, warnings); None when the store holds no billing data.
    billing: dict[str, Any] | None = None


def esc(value: Any) -> str:
    """Every string the report shows passes here: the sanitiser's control-character rule, then HTML-escaping."""
    return sanitize.html(value)


def _asset(name: str) -> str:
    return resources.files("ecrwise.report").joinpath("assets", name).read_text(encoding="utf-8")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# -- charts (inline SVG) ---------------------------------------------------------------------------------

@dataclass
class Bar:
    label: str
    value: float
    text: str  # printed after the bar
    overlay: float = 0.0  # a second, darker bar from the start (e.g. the savings part of a cost)
    css: str = ""
    title: str = ""


FULL, HALF = 1150, 540  # chart widths in CSS pixels: a full-width panel, a half-width one


def bar_chart(bars: list[Bar], *, label_width: int = 210, width: int = FULL, row: int = 26,
              overlay_css: str = "save", aria: str = "") -> str:
    if not bars:
        return '<p class="note">Nothing to chart.</p>'
    top, value_room = 6, 165
    height = top + row * len(bars) + 4
    span = width - label_width - value_room
    biggest = max((b.value for b in bars), default=0.0) or 1.0
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" style="max-width:{width}px" role="img" '
             f'aria-label="{esc(aria)}">']
    for i, b in enumerate(bars):
        y = top + i * row
        w = max(0.0, b.value / biggest * span)
        ow = max(0.0, min(b.overlay, b.value) / biggest * span)
        parts.append(f'<g><title>{esc(b.title or b.label + ": " + b.text)}</title>'
                     f'<text class="lbl" x="{label_width - 10}" y="{y + row * 0.62:.1f}" text-anchor="end">'
                     f'{esc(_clip(b.label, max(8, (label_width - 14) // 7)))}</text>'
                     f'<rect class="bar {esc(b.css)}" x="{label_width}" y="{y + 4}" width="{w:.1f}" '
                     f'height="{row - 9}" rx="3"/>')
        if ow > 0:
            parts.append(f'<rect class="bar {esc(overlay_css)}" x="{label_width}" y="{y + 4}" width="{ow:.1f}" '
                         f'height="{row - 9}" rx="3"/>')
        parts.append(f'<text class="val" x="{label_width + w + 8:.1f}" y="{y + row * 0.62:.1f}">{esc(b.text)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: list[tuple[str, float, str, str]], *, width: int = FULL, height: int = 200,
               aria: str = "") -> str:
    """points: (x label, y value, point label, hover title), oldest first."""
    if not points:
        return '<p class="note">No snapshots.</p>'
    left, right, top, bottom = 64, 24, 24, 34
    inset = 48  # keeps the first and last points' labels clear of the axis and the edge
    w, h = width - left - right, height - top - bottom
    ys = [p[1] for p in points]
    hi = max(ys) * 1.15 or 1.0
    lo = 0.0
    n = len(points)

    def x(i: int) -> float:
        return left + (w / 2 if n == 1 else inset + (w - 2 * inset) * i / (n - 1))

    def y(v: float) -> float:
        return top + h - (v - lo) / (hi - lo) * h

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" style="max-width:{width}px" role="img" '
             f'aria-label="{esc(aria)}">']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text class="axis" x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{esc(f"{v:,.1f}")}</text>')
    if n > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(p[1]):.1f}" for i, p in enumerate(points))
        parts.append(f'<path class="line" d="{path}"/>')
    step = max(1, n // 8)
    for i, (xl, v, label, title) in enumerate(points):
        parts.append(f'<g><title>{esc(title)}</title><circle class="dot" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4.5"/>'
                     f'<text class="val" x="{x(i):.1f}" y="{y(v) - 10:.1f}" text-anchor="middle">{esc(label)}</text></g>')
        if i % step == 0 or i == n - 1:
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{top + h + 20}" text-anchor="middle">{esc(xl)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def data_table(headers: list[tuple[str, bool]], rows: Iterable[list[Any]], summary: str = "Data as a table") -> str:
    """A <details> with the chart's data; headers are (title, numeric)."""
    head = "".join(f'<th class="{"n" if num else ""}">{esc(t)}</th>' for t, num in headers)
    body = "".join("<tr>" + "".join(f'<td class="{"n" if headers[i][1] else ""}">{esc(c)}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return (f'<details class="data"><summary>{esc(summary)}</summary><table class="data"><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></details>")


# -- sections --------------------------------------------------------------------------------------------

def _cards(d: ReportInputs) -> str:
    storage = d.inventory_totals.get("monthly_cost_usd", 0.0) or 0.0
    nat = d.pulls_totals.get("nat_cost_usd_per_month", 0.0) or 0.0
    t = d.totals
    sev = t.get("by_severity", {})
    urgent = " · ".join(f"{sev[s]} {s}" for s in ("critical", "high") if sev.get(s)) or "none critical or high"
    families = len({f["family"] for f in d.findings})
    cards = [
        ("Monthly spend", human_usd(storage + nat), "",
         f"ECR storage {human_usd(storage)} + image pulls through NAT {human_usd(nat)}"),
        ("Savings found", human_usd(t.get("monthly_savings_usd", 0.0)) + "/mo", "save",
         f"{t.get('findings', 0)} findings; overlapping savings counted once"),
        ("Billed storage", human_bytes(d.inventory_totals.get("stored_bytes", 0)), "",
         f"{d.inventory_totals.get('repositories', 0)} repositories; a per-image sum says "
         f"{human_bytes(d.inventory_totals.get('naive_bytes', 0))}"),
        ("Needs attention", urgent, "", f"{t.get('findings', 0)} findings in {families} area(s)"),
    ]
    return '<section class="cards">' + "".join(
        f'<div class="card"><div class="label">{esc(label)}</div><div class="value {css}" data-metric="{esc(label)}">'
        f'{esc(value)}</div><div class="detail">{esc(detail)}</div></div>' for label, value, css, detail in cards) + "</section>"


def _repo_savings(findings: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for f in findings:
        if f["family"] in ("storage", "lifecycle") and f["counted_savings_usd"]:
            key = (f["account"], f["region"], f["resource_name"])
            out[key] = out.get(key, 0.0) + f["counted_savings_usd"]
    return out


def _cost_by_repository(d: ReportInputs) -> str:
    rows = d.repositories[: d.top]
    savings = _repo_savings(d.findings)
    multi_region = len({r["region"] for r in d.repositories}) > 1
    bars = []
    for r in rows:
        save = savings.get((r["account"], r["region"], r["repository"]), 0.0)
        label = f"{r['repository']} ({r['region']})" if multi_region else r["repository"]
        bars.append(Bar(label, r["monthly_cost_usd"], f"{human_usd(r['monthly_cost_usd'])} · "
                        f"{human_bytes(r['stored_bytes'])}", overlay=save,
                        title=f"{r['repository']} in {r['region']}: {human_usd(r['monthly_cost_usd'])}/month, "
                              f"{human_bytes(r['stored_bytes'])} billed; findings save {human_usd(save)}/month"))
    table = data_table([("Repository", False), ("Region", False), ("Images", True), ("Billed", True),
                        ("Per-image sum", True), ("$/month", True), ("Savings found $/month", True),
                        ("Lifecycle policy", False)],
                       [[r["repository"], r["region"], r["images"], human_bytes(r["stored_bytes"]),
                         human_bytes(r["naive_bytes"]), human_usd(r["monthly_cost_usd"]),
                         human_usd(savings.get((r["account"], r["region"], r["repository"]), 0.0)),
                         "yes" if r["lifecycle_policy"] else "no"] for r in d.repositories],
                       f"All {len(d.repositories)} repositories as a table")
    return (f'<section class="panel" id="cost-by-repository"><h2>Cost by repository</h2>'
            f'<p class="sub">Top {len(rows)} of {len(d.repositories)} by monthly storage cost (billed bytes: each '
            f'distinct layer once)</p>'
            + bar_chart(bars, aria="Monthly storage cost by repository", label_width=230)
            + '<div class="legend"><span><i style="background:var(--accent-soft)"></i>monthly cost</span>'
              '<span><i style="background:var(--save)"></i>of which the findings save</span></div>'
            + table + "</section>")


def _growth(d: ReportInputs) -> str:
    h = d.history
    if h is None or not h.snapshots:
        return ""
    same_day = len({s.taken_at.date() for s in h.snapshots}) < len(h.snapshots)
    pts = [(s.taken_at.strftime("%m-%d %H:%M" if same_day else "%Y-%m-%d"), s.stored_bytes / GIB, f"{s.stored_bytes / GIB:,.1f}",
            f"snapshot {s.snapshot_id} ({s.taken_at:%Y-%m-%d %H:%M} UTC): {human_bytes(s.stored_bytes)}, "
            f"{human_usd(s.monthly_cost)}/month") for s in h.snapshots]
    t = h.totals()
    table = data_table([("Snapshot", False), ("Taken at (UTC)", False), ("Repositories", True), ("Images", True),
                        ("Billed", True), ("$/month", True)],
                       [[s.snapshot_id, f"{s.taken_at:%Y-%m-%d %H:%M}", s.repositories, s.images,
                         human_bytes(s.stored_bytes), human_usd(s.monthly_cost)] for s in h.snapshots])
    if len(h.snapshots) > 1:
        realised = (f'<p class="note">Between snapshot {h.from_id} and {h.to_id}: '
                    f'<span class="save-txt">{human_bytes(t["removed_bytes"])} no longer billed '
                    f'({human_usd(t["realised_savings"])}/month realised)</span>, {human_bytes(t["added_bytes"])} '
                    f'new ({human_usd(t["added_cost"])}/month); net {human_bytes(t["net_bytes"])}.</p>')
        moved = [c for c in h.changes if c.status != "unchanged"][:20]
        if moved:
            realised += data_table([("Repository", False), ("Region", False), ("Status", False), ("Removed", True),
                                    ("Added", True), ("Realised $/month", True)],
                                   [[c.repository, c.region, c.status, human_bytes(c.removed_bytes),
                                     human_bytes(c.added_bytes), human_usd(c.realised_savings)] for c in moved],
                                   "Realised savings per repository")
    else:
        realised = '<p class="note">One snapshot so far: scan again later to see the trend and the savings realised.</p>'
    return ('<section class="panel" id="growth"><h2>Storage across snapshots</h2>'
            '<p class="sub">Billed GiB per snapshot</p>'
            + line_chart(pts, aria="Billed storage per snapshot") + realised + table + "</section>")


def _savings_by_check(d: ReportInputs) -> str:
    by = [(k, v) for k, v in d.totals.get("by_check", {}).items() if v["monthly_savings_usd"] > 0]
    bars = [Bar(k, v["monthly_savings_usd"], f"{human_usd(v['monthly_savings_usd'])}/mo", css="save",
                title=f"{k} ({d.checks.get(k, k)}): {v['findings']} finding(s), "
                      f"{human_usd(v['monthly_savings_usd'])}/month")
            for k, v in by]
    table = data_table([("Check", False), ("Title", False), ("Findings", True), ("Saves $/month", True)],
                       [[k, d.checks.get(k, k), v["findings"], human_usd(v["monthly_savings_usd"])]
                        for k, v in d.totals.get("by_check", {}).items()], "Every check as a table")
    return ('<section class="panel" id="savings-by-check"><h2>Savings by check</h2>'
            '<p class="sub">Monthly savings each check found, overlaps counted once</p>'
            + bar_chart(bars, aria="Monthly savings by check", label_width=220, width=HALF) + table + "</section>")


def _pulls(d: ReportInputs) -> str:
    services = sorted(d.services, key=lambda s: -(s["pulled_bytes_per_month"] or 0))
    bars = [Bar(f"{s['cluster']}/{s['service']}", (s["pulled_bytes_per_month"] or 0) / GIB,
                f"{human_bytes(s['pulled_bytes_per_month'])} · NAT {human_usd(s['nat_cost_usd_per_month'])}",
                css="bad" if s["crash_loop"] else "strong",
                title=f"{s['cluster']}/{s['service']} ({s['launch_type']}): {s['task_starts_per_day']:,.1f} task "
                      f"starts/day, {human_bytes(s['pulled_bytes_per_month'])}/month pulled, path {s['path']}")
            for s in services[: d.top]]
    table = data_table([("Service", False), ("Region", False), ("Launch", False), ("Starts/day", True),
                        ("Pulled/month", True), ("Through NAT/month", True), ("NAT $/month", True),
                        ("Crash loop", False)],
                       [[f"{s['cluster']}/{s['service']}", s["region"], s["launch_type"],
                         f"{s['task_starts_per_day']:,.1f}", human_bytes(s["pulled_bytes_per_month"]),
                         human_bytes(s["nat_bytes_per_month"]), human_usd(s["nat_cost_usd_per_month"]),
                         "yes" if s["crash_loop"] else "no"] for s in services])
    return (f'<section class="panel" id="pulls"><h2>Pull traffic by service</h2>'
            f'<p class="sub">Image bytes ECS pulls a month; {human_usd(d.pulls_totals.get("nat_cost_usd_per_month"))}'
            f'/month of it billed by NAT gateways</p>'
            + bar_chart(bars, aria="Image pull traffic by ECS service", label_width=200, width=HALF)
            + '<div class="legend"><span><i style="background:var(--accent)"></i>GiB pulled a month</span>'
              '<span><i style="background:var(--high)"></i>crash-looping service</span></div>'
            + table + "</section>")


def _billed_amount(r: dict[str, Any], which: str) -> str:
    if r["kind"] == "vpce":
        q = r[f"{which}_quantity"]
        return "-" if q is None else f"{q:,.0f} AZ-h"
    return human_bytes(r[f"{which}_bytes"])


def _billed_vs_estimated(d: ReportInputs) -> str:
    """The ranked gaps of `billing reconcile` (largest dollar gap first); zero gaps beyond the top N are cut."""
    b = d.billing
    if not b:
        return ""
    t = b["totals"]
    rows = b["rows"]
    shown = [r for i, r in enumerate(rows) if i < d.top and (i < 3 or abs(r["gap_usd"]) >= 0.005)]
    body = "".join(
        "<tr>" + "".join(f'<td class="{css}">{esc(v)}</td>' for css, v in (
            ("", r["kind"]), ("", r["resource"]), ("", r["region"]), ("n", _billed_amount(r, "billed")),
            ("n", _billed_amount(r, "estimated")),
            ("n", "-" if r["gap_pct"] is None else f"{0.0 if abs(r['gap_pct']) < 0.05 else r['gap_pct']:+.1f}%"),
            ("n", "$0.00" if abs(r["gap_usd"]) < 0.005
             else f"{'+' if r['gap_usd'] > 0 else '-'}{human_usd(abs(r['gap_usd']))}"),
            ("n", human_usd(r["billed_usd"])), ("", r["note"]))) + "</tr>" for r in shown)
    head = "".join(f'<th class="{"n" if num else ""}">{esc(h)}</th>' for h, num in (
        ("Kind", False), ("Resource", False), ("Region", False), ("Billed", True), ("Estimated", True),
        ("Gap %", True), ("Gap $", True), ("Billed $", True), ("Note", False)))
    adj = (f"adjustments (free tier, credits, discounts, tax) {human_usd(t['adjustments_usd'])}, shown apart"
           if b["adjustments"] else "no free tier, credits, discounts or tax")
    notes = "".join(f"<li>{esc(w)}</li>" for w in b["warnings"][:5])
    return (f'<section class="panel" id="billed-vs-estimated"><h2>Billed vs estimated</h2>'
            f'<p class="sub">{esc(t["billing_period"])}: the imported bill against ecrwise\'s estimates, largest '
            f'dollar gap first ({len(shown)} of {t["rows"]} rows; gaps {esc(human_usd(t["gap_usd"]))} at list '
            f'price; billed usage {esc(human_usd(t["billed_usage_usd"]))}; {esc(adj)}). '
            f'<code>ecrwise billing reconcile</code> lists every row.</p>'
            f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            + (f'<ul class="sub">{notes}</ul>' if notes else "") + _realised(b.get("savings")) + "</section>")


def _realised(sv: dict[str, Any] | None) -> str:
    """`billing savings` since the last recorded apply: billed before/after next to the prediction."""
    if not sv:
        return ""
    head = "".join(f'<th class="{"n" if num else ""}">{esc(h)}</th>' for h, num in (
        ("Category", False), ("Resource", False), ("Region", False), ("Before $/month", True),
        ("After $/month", True), ("Saved $/month", True), ("Predicted $/month", True)))
    body = "".join("<tr>" + "".join(f'<td class="{css}">{esc(v)}</td>' for css, v in (
        ("", r["category"]), ("", r["resource"]), ("", r["region"]), ("n", human_usd(r["before_monthly_usd"])),
        ("n", human_usd(r["after_monthly_usd"])), ("n", human_usd(r["realised_monthly_usd"])),
        ("n", human_usd(r["predicted_monthly_usd"])))) + "</tr>" for r in sv["rows"])
    t = sv["totals"]
    return (f'<h3 id="realised-savings">Billed before and after the last apply ({esc(sv["since"])})</h3>'
            f'<p class="sub">Saved {esc(human_usd(t["realised_monthly_usd"]))}/month on the bill; ecrwise predicted '
            f'{esc(human_usd(t["predicted_monthly_usd"]))}/month (<code>ecrwise billing savings</code>).</p>'
            f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            + "".join(f'<p class="note">{esc(w)}</p>' for w in sv.get("warnings", [])))


def _kv(doc: dict[str, Any]) -> str:
    """One line per key, each value as compact JSON: shorter than an indented dump, as exact."""
    return "\n".join(f"{k}: {v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)}"
                     for k, v in doc.items())


def _findings(d: ReportInputs) -> str:
    families = sorted({f["family"] for f in d.findings})
    heads = [("rank", "#", True, "asc"), ("severity", "Severity", False, "desc"), ("check", "Check", False, "asc"),
             ("resource", "Resource", False, "asc"), ("region", "Region", False, "asc"),
             ("savings", "Saves/mo", True, "desc"), ("cost", "Costs/mo", True, "desc"), ("what", "What", False, "asc")]
    head = "".join(f'<th data-col="{c}" data-first="{first}" class="{"n" if num else ""}" scope="col">'
                   f'<button type="button">{esc(t)}</button></th>' for c, t, num, first in heads)
    sev_rank = {s: i for i, s in enumerate(reversed(SEVERITY_ORDER))}
    rows = []
    for f in d.findings:
        more = [f'<div class="more"><b>Recommendation.</b> {esc(f["recommendation"])}</div>']
        if f["fix"]:
            more.append(f'<div class="more"><b>Fix.</b> <code>{esc(f["fix"])}</code></div>')
        if f["overlaps"]:
            more.append(f'<div class="more muted">Saves some of the same bytes as {len(f["overlaps"])} other '
                        f'finding(s); the total counts them once.</div>')
        more.append(f'<div class="more"><b>Evidence</b><pre>{esc(_kv(f["evidence"]))}</pre></div>')
        if f["arithmetic"]:
            more.append(f'<div class="more"><b>Arithmetic</b><pre>{esc(_kv(f["arithmetic"]))}</pre></div>')
        savings = f["monthly_savings_usd"]
        cost = f["monthly_cost_usd"]
        rows.append(
            f'<tr data-severity="{esc(f["severity"])}" data-family="{esc(f["family"])}" data-id="{esc(f["id"])}">'
            f'<td class="n" data-col="rank" data-v="{f["rank"]}">{f["rank"]}</td>'
            f'<td data-col="severity" data-v="{sev_rank.get(f["severity"], 0)}"><span class="pill {esc(f["severity"])}">'
            f'{esc(f["severity"])}</span></td>'
            f'<td data-col="check"><code>{esc(f["check"])}</code></td>'
            f'<td class="res" data-col="resource" title="{esc(f["resource"])}">{esc(f["resource_name"])}</td>'
            f'<td class="nw" data-col="region">{esc(f["region"])}</td>'
            f'<td class="n" data-col="savings" data-v="{savings if savings is not None else -1}">'
            f'{"" if savings is None else esc(human_usd(savings))}</td>'
            f'<td class="n" data-col="cost" data-v="{cost if cost is not None else -1}">'
            f'{"" if cost is None else esc(human_usd(cost))}</td>'
            f'<td class="what" data-col="what"><details><summary>{esc(f["message"])}</summary>{"".join(more)}'
            f'</details></td></tr>')
    options = "".join(f'<option value="{s}">{s} and above</option>' for s in SEVERITY_ORDER if s != "info")
    fam_options = "".join(f'<option value="{esc(x)}">{esc(x)}</option>' for x in families)
    return (f'<section class="panel" id="findings-panel"><h2>Findings</h2>'
            f'<p class="sub">Ranked by monthly savings, then severity. Click a heading to sort, a finding to see its '
            f'evidence, arithmetic and fix.</p>'
            f'<div class="controls"><input id="q" type="search" placeholder="Filter: repository, check, text…" '
            f'aria-label="Filter findings"><select id="sev" aria-label="Severity"><option value="">every severity'
            f'</option>{options}</select><select id="fam" aria-label="Area"><option value="">every area</option>'
            f'{fam_options}</select><span class="count" id="count">{len(d.findings)} findings</span></div>'
            f'<table id="findings"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def render(d: ReportInputs) -> str:
    snap = d.snapshot
    generated = (d.generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    taken = str(snap.get("taken_at") or "")[:16].replace("T", " ") + " UTC"
    meta = (f"Snapshot {snap.get('id')} taken {taken} · account(s) {', '.join(snap.get('accounts') or []) or '-'} · "
            f"{', '.join(snap.get('regions') or []) or '-'} · prices as of {d.prices.get('as_of', '-')}")
    warnings = "".join(f"<li>{esc(w)}</li>" for w in d.warnings[:20])
    body = (
        f'<div class="wrap"><header><h1>Container registry and image-pull spend</h1><p class="meta">{esc(meta)}</p>'
        f"</header>{_cards(d)}{_cost_by_repository(d)}{_growth(d)}"
        f'<div class="grid2">{_savings_by_check(d)}{_pulls(d)}</div>{_billed_vs_estimated(d)}{_findings(d)}'
        + (f'<section class="panel"><h2>Warnings</h2><ul>{warnings}</ul></section>' if warnings else "")
        + f'<footer>Generated by ecrwise {esc(__version__)} on {esc(generated)}. Storage is billed per distinct '
          f'layer at the price book\'s GB-month price; pull traffic is priced at the NAT gateway\'s per-GB '
          f'processing charge. Every figure\'s inputs are in <code>ecrwise findings --format json</code>.</footer></div>')
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>ecrwise report · snapshot {esc(snap.get('id'))}</title>"
            f"<style>{_asset('report.css')}</style></head><body>{body}"
            f"<script>{_asset('report.js')}</script></body></html>\n")


def report_result(d: ReportInputs) -> Any:
    """The HTML report as a renderer-layer result (kind `report`, format `html`)."""
    from ecrwise.report.render import Result

    return Result("report", d.findings, d.totals, d.warnings, d.snapshot, data=d)


def _register() -> None:
    from ecrwise.report.render import View, view

    view(View("report", json=False, html=lambda res: render(res.data)))


_register()
