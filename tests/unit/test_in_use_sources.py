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
    assert [s.name for s in in_use_sources.sources()] == ["apprunner", "batch", "ecs", "inspector", "kubernetes", "lambda",
                                                         "recent_pulls", "sagemaker", "user_file"]


def test_a_new_source_module_is_found_and_its_references_resolved(tmp_path, monkeypatch):
    # A new source module, discovered beside the shipped ones: references as text, as a parsed ImageRef, and with the digest
    # the workload reports (which wins over the tag).
    (tmp_path / "zz_extra.py").write_text(
        "from ecrwise.analysis.in_use_sources import InUseSource\n"
        "from ecrwise.records.image_ref import parse_image_ref\n"
        "def refs(query):\n"
        f"    yield '{URI}/app:v1', 'lambda:orders-fn:7', None\n"
        f"    yield parse_image_ref('{URI}/app:v2'), 'lambda:orders-fn:$LATEST', None\n"
        f"    yield '{URI}/app:v1', 'lambda:billing-fn:3', '{d(3)}'\n"
        "    yield 'public.ecr.aws/x/y:1', 'not ours', None\n"
        "SOURCE = InUseSource(name='zz_extra', references=refs)\n")
    monkeypatch.setattr(in_use_sources, "__path__", [*in_use_sources.__path__, str(tmp_path)])
    in_use_sources.sources.cache_clear()
    try:
        assert [s.name for s in in_use_sources.sources()][-1] == "zz_extra"
        used = find_in_use(images(), extra=[(f"{URI}/app@{d(2)}", "listed")]).digests((A, R, "app"))
    finally:
        in_use_sources.sources.cache_clear()
    assert used == {d(1): ["lambda:orders-fn:7"], d(2): ["listed", "lambda:orders-fn:$LATEST"],
                    d(3): ["lambda:billing-fn:3"]}


def test_a_tag_the_snapshot_lacks_is_a_warning_not_a_silent_miss():
    res = find_in_use(images(), extra=[(f"{URI}/app:gone", "listed"), (f"{URI}/other:v1", "elsewhere")])
    assert res.by_repo == {} or not any(res.by_repo.values())
    assert res.warnings == [f"{URI}/app:gone (listed): tag not found in the snapshot"]
    assert parse_image_ref(f"{URI}/app:gone").repo_key == (A, R, "app")


def test_lambda_batch_sagemaker_and_recent_pulls_each_protect_their_image():
    from datetime import timedelta

    from ecrwise.records.batch import BatchJobImage
    from ecrwise.records.lambda_ import LambdaFunctionImage
    from ecrwise.records.sagemaker import SageMakerImage

    B = "222222222222"  # a workload in another account protects the image in A's registry
    imgs = [Image(A, R, "app", d(i), [f"v{i}"], NOW, None, 1, "m", None, 1) for i in (1, 2, 3, 4, 5)]
    imgs[4] = Image(A, R, "app", d(5), [], NOW, NOW - timedelta(days=2), 1, "m", None, 1)
    recs = Records({
        Image: imgs,
        LambdaFunctionImage: [LambdaFunctionImage(B, R, "orders-fn", "7", f"{URI}/app:v9",
                                                  f"{URI}/app@{d(1)}", ["live"])],
        BatchJobImage: [BatchJobImage(A, R, "nightly", 3, "ACTIVE", "container", f"{URI}/app:v2"),
                        BatchJobImage(A, R, "old", 1, "INACTIVE", "container", f"{URI}/app:v4")],
        SageMakerImage: [SageMakerImage(A, R, "model", "ranker", "primary", f"{URI}/app:v3")],
    })
    off = find_in_use(recs, now=NOW).digests((A, R, "app"))
    assert off == {d(1): ["lambda:orders-fn:7 (alias live)"], d(2): ["batch:nightly:3"],
                   d(3): ["sagemaker:model/ranker primary"]}
    used = find_in_use(recs, pulled_within_days=7, now=NOW)
    assert used.digests((A, R, "app"))[d(5)] == ["pulled 2026-05-30 (within 7 days)"]
    assert used.sources[((A, R, "app"), d(1))] == ["lambda"]
    assert find_in_use(recs, pulled_within_days=1, now=NOW).digests((A, R, "app")).get(d(5)) is None


def test_app_runner_and_inspector_each_protect_their_image():
    from datetime import timedelta

    from ecrwise.records.apprunner import AppRunnerService
    from ecrwise.records.inspector import InspectorImageCoverage

    imgs = [Image(A, R, "app", d(i), [f"v{i}"], NOW, None, 1, "m", None, 1) for i in (1, 2, 3, 4)]
    recs = Records({
        Image: imgs,
        AppRunnerService: [AppRunnerService(A, R, "web", "arn:web", "PAUSED", f"{URI}/app:v1", "ECR"),
                           # A public image is not ECR private's to protect.
                           AppRunnerService(A, R, "pub", "arn:pub", "RUNNING", "public.ecr.aws/x/app:v2", "ECR_PUBLIC")],
        InspectorImageCoverage: [InspectorImageCoverage(A, R, "app", d(2), 3, NOW),
                                 InspectorImageCoverage(A, R, "app", d(3), 0, NOW - timedelta(days=2)),
                                 InspectorImageCoverage(A, R, "app", d(4), 0, NOW - timedelta(days=20))],
    })
    used = find_in_use(recs, now=NOW)
    assert used.digests((A, R, "app")) == {d(1): ["apprunner:web"],
                                           d(2): ["inspector:in use by 3 ECS task(s) or EKS pod(s)"]}
    assert used.sources[((A, R, "app"), d(2))] == ["inspector"]
    # lastInUseAt counts as recent use only with --protect-pulled-within, like a pull.
    recent = find_in_use(recs, pulled_within_days=7, now=NOW).digests((A, R, "app"))
    assert recent[d(3)] == ["inspector:last in use 2026-05-30"] and d(4) not in recent


def test_inspector_unexplained_lists_only_images_no_other_source_explains():
    from storage_helpers import BOOK

    from ecrwise.analysis.checks import discover
    from ecrwise.records.inspector import InspectorImageCoverage
    from ecrwise.records.lambda_ import LambdaFunctionImage

    imgs = [Image(A, R, "app", d(i), [f"v{i}"], NOW, None, 1, "m", None, 1) for i in (1, 2, 3)]
    recs = Records({
        Image: imgs,
        LambdaFunctionImage: [LambdaFunctionImage(A, R, "fn", "1", f"{URI}/app:v1", f"{URI}/app@{d(1)}", [])],
        InspectorImageCoverage: [InspectorImageCoverage(A, R, "app", d(1), 1, NOW),
                                 InspectorImageCoverage(A, R, "app", d(2), 2, NOW),
                                 InspectorImageCoverage(A, R, "app", d(3), 0, NOW)],
    })
    found = list(discover()["in-use.inspector-unexplained"].run(recs, BOOK, {}))
    assert [f.evidence["digest"] for f in found] == [d(2)]
    assert found[0].severity == "medium" and found[0].resource.endswith(f"repository/app/{d(2)}")
    assert "no scanned workload runs it" in found[0].message
