"""Collector families: what `scan --only` names. Each family is declared once, as `FAMILY` in its own module
under `ecrwise.aws` (`aws/ecr.py`, `aws/ecs.py`, `aws/network.py`, …), and found here by walking the package.

A family says what it is called, which record modules hold what it collects, which IAM actions it calls, and
the task that starts its work in one account and region. Scan, `--only` (its check and its help), record
loading, the snapshot warnings, the scan summary and `iam-policy --read-only` all read these declarations, so
adding an AWS service is one new module here plus its records module.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Callable

from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task


@dataclass(frozen=True)
class CollectorFamily:
    name: str  # what `scan --only` and the snapshot's `services` call it
    records: tuple[ModuleType, ...]  # the `ecrwise.records.*` modules whose record classes it produces
    iam_actions: tuple[str, ...]  # every read-only action its tasks call (`iam-policy --read-only`)
    region_task: Callable[[Account, str], Task]  # the first work unit for one account and region
    # The task services (`Task.service`) whose scan failures the commands reading this family's records warn
    # about; ECR's own failures show on the scan itself, its CloudWatch metrics' ones on `pulls` and friends.
    warn: tuple[str, ...] = ()
    # Record classes whose row counts the scan's table summary names on its "also:" line.
    summary: tuple[type, ...] = ()

    def record_classes(self) -> list[type]:
        """Every record class (a dataclass with `__table__`) defined in the family's record modules."""
        return [c for m in self.records for c in vars(m).values()
                if isinstance(c, type) and dataclasses.is_dataclass(c) and hasattr(c, "__table__")
                and c.__module__ == m.__name__]


def _modules() -> list[ModuleType]:
    import ecrwise.aws as aws_pkg

    return [importlib.import_module(f"{aws_pkg.__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(aws_pkg.__path__), key=lambda m: m.name)]


@cache
def families() -> dict[str, CollectorFamily]:
    """Every declared family by name, in name order (the scan's default `--only`)."""
    found: dict[str, CollectorFamily] = {}
    for module in _modules():
        family = getattr(module, "FAMILY", None)
        if not isinstance(family, CollectorFamily):
            continue
        if family.name in found:
            raise RuntimeError(f"collector family {family.name!r} declared twice ({module.__name__})")
        found[family.name] = family
    return dict(sorted(found.items()))


def family_names() -> list[str]:
    return list(families())


def record_classes() -> list[type]:
    """Every record class of every family, each once."""
    return list(dict.fromkeys(c for f in families().values() for c in f.record_classes()))


def warned_services() -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for f in families().values() for s in f.warn))


def summary_tables() -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.__table__ for f in families().values() for c in f.summary))
