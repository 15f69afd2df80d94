"""Least-privilege IAM policies, derived from the code: every module under `ecrwise.aws` declares the
actions it calls, and this collects them. A collector family declares its read actions in its `FAMILY`
(`ecrwise.aws.families`); other modules (scan, accounts, the `--apply` modules' re-reads) in `IAM_ACTIONS`;
changes in `APPLY_IAM_ACTIONS`."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import ecrwise.aws as aws_pkg
from ecrwise.aws.families import CollectorFamily


def declared_actions() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(read actions by module, apply actions by module)."""
    read: dict[str, list[str]] = {}
    apply: dict[str, list[str]] = {}
    for info in sorted(pkgutil.iter_modules(aws_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{aws_pkg.__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        actions = family.iam_actions if isinstance(family, CollectorFamily) else getattr(module, "IAM_ACTIONS", None)
        if actions:
            read[info.name] = sorted(set(actions))
        if getattr(module, "APPLY_IAM_ACTIONS", None):
            apply[info.name] = sorted(set(module.APPLY_IAM_ACTIONS))
    return read, apply


def policy_document(actions: list[str], sid: str) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": "*"}]}


def read_only_policy() -> dict[str, Any]:
    read, _ = declared_actions()
    return policy_document([a for acts in read.values() for a in acts], "EcrwiseReadOnlyScan")


def apply_policy() -> dict[str, Any]:
    """What `--apply` commands need on top of the read-only policy (they re-read what they change)."""
    read, apply = declared_actions()
    return policy_document([a for acts in apply.values() for a in acts], "EcrwiseApply")
