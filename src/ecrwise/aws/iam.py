"""Least-privilege IAM policies, derived from the code: every module under `ecrwise.aws` declares the
actions it calls, and this collects them. A collector family declares its read actions in its `FAMILY`
(`ecrwise.aws.families`); other modules (scan, accounts, the `--apply` modules' re-reads) in `IAM_ACTIONS`;
changes in `APPLY_IAM_ACTIONS`. `IAM_GROUP` says which policy a module's actions belong to ("scan" by default;
"billing" for the modules only `ecrwise billing` / `ecrwise prices` use). A module may scope its own actions to
resources with `iam_statements(export_prefixes)`; otherwise its actions get `Resource: "*"`."""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Any, Iterable

import ecrwise.aws as aws_pkg
from ecrwise.aws.families import CollectorFamily

SCAN = "scan"
BILLING = "billing"
GROUPS = (SCAN, BILLING)


def _modules() -> list[tuple[str, ModuleType]]:
    return [(info.name, importlib.import_module(f"{aws_pkg.__name__}.{info.name}"))
            for info in sorted(pkgutil.iter_modules(aws_pkg.__path__), key=lambda m: m.name)]


def group_of(module: ModuleType) -> str:
    group = getattr(module, "IAM_GROUP", SCAN)
    if group not in GROUPS:  # a typo must not silently drop a module's actions from every policy
        raise ValueError(f"{module.__name__}: IAM_GROUP {group!r} is not one of {', '.join(GROUPS)}")
    return group


def declared_actions(group: str = SCAN) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(read actions by module, apply actions by module) of the modules in `group`."""
    read: dict[str, list[str]] = {}
    apply: dict[str, list[str]] = {}
    for name, module in _modules():
        if group_of(module) != group:
            continue
        family = getattr(module, "FAMILY", None)
        actions = family.iam_actions if isinstance(family, CollectorFamily) else getattr(module, "IAM_ACTIONS", None)
        if actions:
            read[name] = sorted(set(actions))
        if getattr(module, "APPLY_IAM_ACTIONS", None):
            apply[name] = sorted(set(module.APPLY_IAM_ACTIONS))
    return read, apply


def policy_document(actions: list[str], sid: str) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": "*"}]}


def read_only_policy() -> dict[str, Any]:
    """What `scan` and the analyses need (the billing commands' actions are apart: `billing_policy`)."""
    read, _ = declared_actions(SCAN)
    return policy_document([a for acts in read.values() for a in acts], "EcrwiseReadOnlyScan")


def apply_policy() -> dict[str, Any]:
    """What `--apply` commands need on top of the read-only policy (they re-read what they change)."""
    read, apply = declared_actions(SCAN)
    return policy_document([a for acts in apply.values() for a in acts], "EcrwiseApply")


def billing_policy(export_prefixes: Iterable[str] = ()) -> dict[str, Any]:
    """What `ecrwise billing` and `ecrwise prices` need. Modules that can scope their actions (S3 on the export
    prefix) add their own statements; the rest share one statement on `*` (Cost Explorer's GetCostAndUsage and
    the Price List's GetProducts have no resource types, so `*` is the only Resource they take:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscostexplorerservice.html,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_pricing.html)."""
    prefixes = list(export_prefixes)
    unscoped: list[str] = []
    scoped: list[dict[str, Any]] = []
    for _, module in _modules():
        if group_of(module) != BILLING or not getattr(module, "IAM_ACTIONS", None):
            continue
        statements = getattr(module, "iam_statements", None)
        if statements is None:
            unscoped += module.IAM_ACTIONS
        else:
            scoped += statements(prefixes)
    doc = policy_document(unscoped, "EcrwiseBilling")
    doc["Statement"] += scoped
    return doc
