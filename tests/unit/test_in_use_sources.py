"""In-use sources are discovered: `find_in_use` asks every module of `analysis.in_use_sources`, so a new source
(EKS, Lambda, …) is one module declaring `SOURCE`."""
from __future__ import annotations

from datetime import datetime, timezone

from ecrwise.analysis import in_use_sources
from ecrwise.analysis.in_use import find_in_use
from ecrwise.records import Records
from ecrwise.records.ecr import Image
from ecrwise.records.image_ref import parse_image_ref

A, R = "111111111111", "us-east-1"
URI = f"{A}.dkr.ecr.{R}.amazonaws.com"
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def d(i: int) -> str:
    return "sha256:" + f"{i:064x}"


def images() -> Records:
    return Records({Image: [Image(A, R, "app", d(i), [f"v{i}"], NOW, None, 1, "m", None, 1) for i in (1, 2, 3)]})


def test_the_shipped_sources():
    assert [s.name for s in in_use_sources.sources()] == ["ecs", "kubernetes", "user_file"]


def test_a_new_source_module_is_found_and_its_references_resolved(tmp_path, monkeypatch):
    # A stand-in for the next issue's sources: references as text, as a parsed ImageRef, and with the digest
    # the workload reports (which wins over the tag).
    (tmp_path / "lambda_fn.py").write_text(
        "from ecrwise.analysis.in_use_sources import InUseSource\n"
        "from ecrwise.records.image_ref import parse_image_ref\n"
        "def refs(query):\n"
        f"    yield '{URI}/app:v1', 'lambda:orders-fn:7', None\n"
        f"    yield parse_image_ref('{URI}/app:v2'), 'lambda:orders-fn:$LATEST', None\n"
        f"    yield '{URI}/app:v1', 'lambda:billing-fn:3', '{d(3)}'\n"
        "    yield 'public.ecr.aws/x/y:1', 'not ours', None\n"
        "SOURCE = InUseSource(name='lambda', references=refs)\n")
    monkeypatch.setattr(in_use_sources, "__path__", [*in_use_sources.__path__, str(tmp_path)])
    in_use_sources.sources.cache_clear()
    try:
        assert [s.name for s in in_use_sources.sources()] == ["ecs", "kubernetes", "lambda", "user_file"]
        used = find_in_use(images(), extra=[(f"{URI}/app@{d(2)}", "listed")]).digests((A, R, "app"))
    finally:
        in_use_sources.sources.cache_clear()
    assert used == {d(1): ["lambda:orders-fn:7"], d(2): ["lambda:orders-fn:$LATEST", "listed"],
                    d(3): ["lambda:billing-fn:3"]}


def test_a_tag_the_snapshot_lacks_is_a_warning_not_a_silent_miss():
    res = find_in_use(images(), extra=[(f"{URI}/app:gone", "listed"), (f"{URI}/other:v1", "elsewhere")])
    assert res.by_repo == {} or not any(res.by_repo.values())
    assert res.warnings == [f"{URI}/app:gone (listed): tag not found in the snapshot"]
    assert parse_image_ref(f"{URI}/app:gone").repo_key == (A, R, "app")
