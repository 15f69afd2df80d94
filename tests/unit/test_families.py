"""Collector families are declared once, in their own `ecrwise.aws` module, and everything that lists them
(scan, `--only`, record loading, snapshot warnings, the scan summary, `iam-policy`) reads the declarations."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from datetime import datetime, timezone

import pytest

import ecrwise.records as records_pkg
from ecrwise.aws import families
from ecrwise.aws.iam import declared_actions, read_only_policy
from ecrwise.aws.scan import ScanOptions, run_scan
from ecrwise.cli.snapshot_data import record_classes, snapshot_warnings
from ecrwise.errors import UserError
from ecrwise.records import Records
from ecrwise.records.scan import ScanFailure
from ecrwise.store import Snapshot


def test_the_families_are_discovered_in_name_order():
    names = ["apprunner", "batch", "ecr", "ecs", "eks", "inspector", "lambda", "network", "registry", "sagemaker"]
    assert families.family_names() == names
    assert ScanOptions().only == names
    for name, family in families.families().items():
        # Each lives in its service's module (`lambda_` for Lambda: `lambda` is a Python keyword).
        assert importlib.import_module(family.region_task.__module__).FAMILY is family
        assert family.region_task.__module__.rsplit(".", 1)[-1].rstrip("_") == name


def test_every_record_class_belongs_to_exactly_one_family():
    declared = [c for f in families.families().values() for c in f.record_classes()]
    assert len(declared) == len(set(declared))
    every = set()
    for info in pkgutil.iter_modules(records_pkg.__path__):
        module = importlib.import_module(f"ecrwise.records.{info.name}")
        every |= {c for c in vars(module).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
                  and hasattr(c, "__table__") and c.__module__ == module.__name__}
    assert every == set(declared) == set(record_classes())


def test_each_familys_actions_reach_the_read_only_policy():
    read, _ = declared_actions()
    policy = set(read_only_policy()["Statement"][0]["Action"])
    for name, family in families.families().items():
        assert read[family.region_task.__module__.rsplit(".", 1)[-1]] == sorted(set(family.iam_actions))
        assert set(family.iam_actions) <= policy
    assert "cloudwatch:GetMetricData" in families.families()["ecr"].iam_actions  # pull metrics are ECR's


def test_summary_tables_and_warned_services_come_from_the_families():
    assert families.summary_tables() == ("ecs_services", "ecs_tasks", "eks_clusters", "kube_workload_images", "vpcs",
                                         "vpc_endpoints", "nat_gateways")
    assert set(families.warned_services()) == {"apprunner", "batch", "cloudwatch", "ecs", "eks", "inspector", "kubernetes",
                                                "lambda", "network", "registry", "sagemaker"}
    failures = [ScanFailure("1", "r", service, "AccessDenied", "no") for service in ("ecr", "cloudwatch", "ecs")]
    snap = Snapshot(1, datetime.now(timezone.utc), ["1"], ["r"], ["ecr", "ecs"], failures)
    warned = snapshot_warnings(snap, Records({}))
    assert [w.split()[4] for w in warned] == ["cloudwatch", "ecs"]  # ECR's own failures show on the scan


def test_unknown_family_is_a_usage_error_naming_the_known_ones():
    known = ", ".join(families.family_names())
    with pytest.raises(UserError, match=rf"--only nosuch: unknown service family \(known: {known}\)"):
        run_scan(ScanOptions(only=["ecr", "nosuch"]))


def test_a_family_declared_twice_is_refused(monkeypatch):
    fam = families.families()["ecr"]
    fake = type(importlib)("ecrwise.aws.fake")
    fake.FAMILY = fam
    real = families._modules()
    monkeypatch.setattr(families, "_modules", lambda: real + [fake])
    families.families.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="'ecr' declared twice"):
            families.families()
    finally:
        families.families.cache_clear()
