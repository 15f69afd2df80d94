"""Every finding of every registered check, in one ranked list. Pure.

This module runs checks; it computes nothing they compute. What it adds:

- **de-duplication**: two findings with the same id (check, account, region, resource) are one; the more
  severe (then the larger saving) stays;
- **ranking**: by monthly savings (largest first), then severity, then check and resource. Findings of
  severity `info` are comparisons (Fargate versus EC2), not waste: their dollar figures are shown but
  neither rank nor count;
- **a total that counts money once**: findings that save the same bytes overlap, and the total counts the
  larger of them. The storage and lifecycle findings of one repository overlap (deleting a redundant
  repository also frees what a lifecycle policy would); a crash-looping service's pull savings overlap the
  network findings that take the same VPC's pulls off its NAT gateway;
- **filters** (check id, family or glob; severity at or above a level; account; region) and **totals**
  (count by severity, savings in total and by check).
"""
from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from ecrwise.analysis.checks import SEVERITIES, Check, CheckSession, Finding, Records, discover
from ecrwise.pricing.book import PriceBook

# Highest first, for sorting and for "at or above".
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # info 0 … critical 4
NOT_COUNTED_SEVERITY = "info"


def registry() -> dict[str, Check]:
    """The registered checks, after discovering every family module (`analysis/*_checks.py`)."""
    return discover()


@dataclass
class Ranked:
    finding: Finding
    family: str
    # The part of its savings the total counts: 0 when an overlapping finding already counts the same bytes.
    counted_savings: float = 0.0
    overlaps: list[str] = field(default_factory=list)  # ids of findings that save (some of) the same bytes
    rank: int = 0


@dataclass
class FindingsResult:
    items: list[Ranked]
    warnings: list[str]
    checks: list[str]  # the checks that ran
    # service ARN → (account, region, vpc) of its pulls: what overlap between ECS and network findings needs.
    vpc_of_service: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    session: CheckSession | None = None  # the run's options and facts, for callers that need a fact too

    def totals(self) -> dict[str, Any]:
        return totals(self.items)


def matches_check(spec: str, c: Check) -> bool:
    """`--check` accepts a check id, a family name (storage, ecs, …) or a glob (`ecr.*`)."""
    return spec == c.id or spec == c.family or fnmatch.fnmatchcase(c.id, spec)


def unknown_check_specs(specs: Iterable[str]) -> list[str]:
    checks = registry().values()
    return [s for s in specs if not any(matches_check(s, c) for c in checks)]


def run_checks(session: CheckSession, checks: Iterable[str] = ()) -> tuple[list[Finding], list[str], list[str]]:
    """(findings, warnings, check ids run). A check that fails is reported as a warning; the others run."""
    specs = list(checks)
    findings: list[Finding] = []
    warnings: list[str] = []
    ran: list[str] = []
    for c in registry().values():
        if specs and not any(matches_check(s, c) for s in specs):
            continue
        ran.append(c.id)
        try:
            findings.extend(session.run(c))
        except Exception as e:  # noqa: BLE001 — one broken check must not hide every other finding
            warnings.append(f"check {c.id} failed: {type(e).__name__}: {e}")
    return findings, warnings, ran


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    best: dict[str, Finding] = {}
    for f in findings:
        kept = best.get(f.id)
        if kept is None or (SEVERITY_RANK.get(f.severity, 0), f.monthly_savings_usd or 0.0) > (
                SEVERITY_RANK.get(kept.severity, 0), kept.monthly_savings_usd or 0.0):
            best[f.id] = f
    return list(best.values())


def _crash_loop_vpcs(session: CheckSession) -> dict[str, tuple[str, str, str]]:
    """service ARN → (account, region, vpc) of its pulls, from the pulls analysis the ECS checks already ran."""
    from ecrwise.analysis.ecs_checks import crash_loop_pulls  # the session's run, which the ECS checks share

    try:
        report = crash_loop_pulls(session)
    except Exception:  # noqa: BLE001 — without the pulls analysis, nothing is known to overlap
        return {}
    return {s.service_arn: (s.account, s.region, s.vpc_id) for s in report.services if s.vpc_id}


def assign_overlaps(items: list[Ranked], vpc_of_service: dict[str, tuple[str, str, str]]) -> None:
    """Set each item's counted_savings and overlaps (see the module docstring)."""
    for it in items:
        f = it.finding
        it.counted_savings = 0.0 if f.severity == NOT_COUNTED_SEVERITY else max(0.0, f.monthly_savings_usd or 0.0)
        it.overlaps = []
    priced = [it for it in items if it.counted_savings > 0]
    # One repository's storage and lifecycle findings: the largest counts.
    groups: dict[tuple[str, str, str], list[Ranked]] = defaultdict(list)
    for it in priced:
        if it.family in ("storage", "lifecycle"):
            groups[(it.finding.account, it.finding.region, it.finding.resource)].append(it)
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda it: (-it.counted_savings, it.finding.check))
        for it in members:
            it.overlaps = [m.finding.id for m in members if m is not it]
        for it in members[1:]:
            it.counted_savings = 0.0
    # A crash-looping service's savings are NAT bytes that the network findings of its VPC already count.
    network: dict[tuple[str, str, str], list[Ranked]] = defaultdict(list)
    for it in priced:
        vpc = it.finding.evidence.get("vpc_id")
        if it.family == "network" and vpc:
            network[(it.finding.account, it.finding.region, vpc)].append(it)
    for it in priced:
        if it.finding.check != "ecs.crash-loop":
            continue
        others = network.get(vpc_of_service.get(it.finding.resource, ("", "", "")), [])
        if others:
            it.overlaps = [o.finding.id for o in others]
            it.counted_savings = 0.0
            for o in others:
                o.overlaps.append(it.finding.id)


def rank_key(it: Ranked) -> tuple[Any, ...]:
    f = it.finding
    savings = 0.0 if f.severity == NOT_COUNTED_SEVERITY else (f.monthly_savings_usd or 0.0)
    return (-round(savings, 6), -SEVERITY_RANK.get(f.severity, 0), f.check, f.account, f.region, f.resource)


def collect(records: Records, book: PriceBook, options: Mapping[str, Any] | None = None,
            checks: Iterable[str] = (), *, facts: Mapping[str, Any] | None = None) -> FindingsResult:
    """Run the checks in one session, de-duplicate, work out overlaps, rank.

    `options`: {"now": the snapshot's time, "FAMILY.FIELD": value, …} (see `analysis.checks.CheckSession`)."""
    reg = registry()
    session = CheckSession(records, book, options, facts=facts)
    found, warnings, ran = run_checks(session, checks)
    items = [Ranked(f, reg[f.check].family if f.check in reg else "other") for f in dedupe(found)]
    vpcs = _crash_loop_vpcs(session) if any(it.finding.check == "ecs.crash-loop" for it in items) else {}
    assign_overlaps(items, vpcs)
    items.sort(key=rank_key)
    for i, it in enumerate(items, 1):
        it.rank = i
    return FindingsResult(items, warnings, ran, vpcs, session)


def select(result: FindingsResult, *, checks: Iterable[str] = (), severity: str | None = None,
           accounts: Iterable[str] = (), regions: Iterable[str] = ()) -> FindingsResult:
    """The findings that pass every filter (each filter's values are alternatives), ranks kept. Overlaps are
    worked out again within the selection, so its total counts every selected saving once."""
    specs, accts, regs = list(checks), set(accounts), set(regions)
    reg = registry()
    floor = SEVERITY_RANK[severity] if severity else 0
    kept = []
    for it in result.items:
        f = it.finding
        c = reg.get(f.check)
        if specs and not (c and any(matches_check(s, c) for s in specs)):
            continue
        if SEVERITY_RANK.get(f.severity, 0) < floor:
            continue
        if accts and f.account not in accts:
            continue
        if regs and f.region not in regs:
            continue
        kept.append(replace(it, overlaps=list(it.overlaps)))
    assign_overlaps(kept, result.vpc_of_service)
    return replace(result, items=kept)


def totals(items: list[Ranked]) -> dict[str, Any]:
    """Unrounded figures; renderers round to cents."""
    by_severity = {s: 0 for s in reversed(SEVERITIES)}
    by_check: dict[str, dict[str, Any]] = {}
    by_family: dict[str, float] = defaultdict(float)
    for it in items:
        f = it.finding
        by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
        c = by_check.setdefault(f.check, {"findings": 0, "monthly_savings": 0.0, "family": it.family})
        c["findings"] += 1
        c["monthly_savings"] += it.counted_savings
        by_family[it.family] += it.counted_savings
    listed = sum(it.finding.monthly_savings_usd or 0.0 for it in items
                 if it.finding.severity != NOT_COUNTED_SEVERITY)
    counted = sum(it.counted_savings for it in items)
    return {
        "findings": len(items),
        "by_severity": {s: n for s, n in by_severity.items() if n},
        "monthly_savings": counted,
        "monthly_savings_listed": listed,
        "monthly_savings_overlapping": max(0.0, listed - counted),
        "by_check": dict(sorted(by_check.items(), key=lambda kv: (-kv[1]["monthly_savings"], kv[0]))),
        "by_family": dict(sorted(by_family.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def threshold_met(items: list[Ranked], *, savings_usd: float | None = None,
                  severity: str | None = None) -> list[str]:
    """Why a CI gate fails (empty: it passes). Savings compare the counted total, in dollars."""
    reasons = []
    if savings_usd is not None:
        total = sum(it.counted_savings for it in items)
        if round(total, 2) >= savings_usd:
            reasons.append(f"monthly savings ${total:,.2f} ≥ --fail-on-savings ${savings_usd:,.2f}")
    if severity is not None:
        floor = SEVERITY_RANK[severity]
        hits = [it for it in items if SEVERITY_RANK.get(it.finding.severity, 0) >= floor]
        if hits:
            reasons.append(f"{len(hits)} finding(s) at or above --fail-on-severity {severity}")
    return reasons
