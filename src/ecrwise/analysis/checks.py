"""Checks describe themselves: one registry of every analysis that produces findings.

A check is a small pure function over a snapshot's records with an id (`ecr.no-lifecycle-policy`), a title,
a default severity, the record tables it reads, a docs anchor and a recommendation. `ecrwise findings`, the
docs and the SARIF rules all list the same registered set. Each family of checks lives in one module
(`storage_checks`, `ecs_checks`, `network_checks`, …) and registers with `@check(...)`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

from ecrwise.pricing.book import PriceBook
from ecrwise.records import Records  # noqa: F401  (re-exported: checks read Records)

T = TypeVar("T")

SEVERITIES = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: str
    family: str  # storage | lifecycle | pulls | ecs | network
    reads: tuple[str, ...]  # record tables
    docs: str  # docs page and anchor, e.g. "docs/ecs.md#circuit-breaker"
    recommendation: str
    run: Callable[[Records, PriceBook, dict[str, Any]], Iterable["Finding"]] = field(repr=False, compare=False)


@dataclass
class Finding:
    check: str
    severity: str
    account: str
    region: str
    resource: str
    message: str
    monthly_cost_usd: float | None = None
    monthly_savings_usd: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    arithmetic: dict[str, Any] = field(default_factory=dict)
    recommendation: str = ""
    fix: str | None = None  # the ecrwise command (or documented step) that applies the fix

    @property
    def id(self) -> str:
        """Stable across snapshots, so a finding can be tracked (and suppressed) over time."""
        h = hashlib.sha256(f"{self.check}|{self.account}|{self.region}|{self.resource}".encode()).hexdigest()
        return f"{self.check}:{h[:12]}"


REGISTRY: dict[str, Check] = {}


def check(id: str, *, title: str, severity: str, family: str, reads: tuple[str, ...], docs: str,
          recommendation: str) -> Callable[[Callable[..., Iterable[Finding]]], Callable[..., Iterable[Finding]]]:
    if severity not in SEVERITIES:
        raise ValueError(f"{id}: severity {severity!r} not in {SEVERITIES}")

    def register(fn: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        if id in REGISTRY:
            raise ValueError(f"check {id} registered twice")
        REGISTRY[id] = Check(id, title, severity, family, reads, docs, recommendation, fn)
        return fn

    return register
