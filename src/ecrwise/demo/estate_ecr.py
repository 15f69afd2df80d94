"""The ECR part of the demo estate (`ecrwise.demo.estate` builds the whole): repositories, images, layers,
tags, push times, lifecycle policies and pull metrics, planned deterministically and created through the
stand-in's API, plus the helpers the ECS part (`estate_ecs`) reuses for its own repository. Everything is created with boto3 calls against the
stand-in's URL, exactly as a user's CI would push images. Facts the stand-in's API cannot express (push times
spread over a year, last pull times) are then set directly in the in-process stand-in's state, which is
possible only because the stand-in runs in this process; each such spot says so.

`Estate` describes what was made (every image's layers), so tests can compute the expected inventory
independently of ecrwise's collectors.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import botocore.config

from ecrwise.demo.estate_network import EstateVpc
from ecrwise.demo.standin import DEMO_ACCOUNT

MB = 1_000_000
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REGIONS = ("us-east-1", "eu-west-1")
NETWORK_REGION = "us-east-1"

# Base images shared by many repositories: (name, [layer sizes in bytes]).
BASES: dict[str, list[int]] = {
    "alpine": [3_400_000],
    "debian": [29_100_000],
    "python": [29_100_000, 3_300_000, 16_800_000, 2_900_000],
    "node": [29_100_000, 24_000_000, 48_500_000, 2_100_000],
    "jdk": [29_100_000, 14_200_000, 190_400_000],
    "cuda": [29_100_000, 1_650_000_000, 980_000_000],
    "distroless": [2_100_000, 1_800_000],
}

PLAYBOOK_POLICY = {"rules": [
    {"rulePriority": 1, "description": "Clean untagged",
     "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "KeepLatest",
     "selection": {"tagStatus": "tagged", "tagPrefixList": ["latest"], "countType": "imageCountMoreThan",
                   "countNumber": 1}, "action": {"type": "expire"}},
    {"rulePriority": 3, "description": "Keep 9 versions",
     "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan",
                   "countNumber": 9}, "action": {"type": "expire"}},
    {"rulePriority": 4, "description": "Keep 20 images all together",
     "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
     "action": {"type": "expire"}},
]}
UNTAGGED_POLICY = {"rules": [
    {"rulePriority": 1, "description": "Expire untagged after 14 days",
     "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                   "countNumber": 14}, "action": {"type": "expire"}},
]}


@dataclass
class EstateImage:
    digest: str
    tags: list[str]
    pushed_at: datetime
    layers: list[tuple[str, int]]
    children: list[str] = field(default_factory=list)
    media_type: str = DOCKER_MANIFEST
    last_pulled_at: datetime | None = None
    manifest: str = ""  # the exact text pushed; the digest is its sha256


@dataclass
class EstateRepository:
    region: str
    name: str
    images: list[EstateImage] = field(default_factory=list)
    policy: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    daily_pulls: list[int] = field(default_factory=list)  # last 30 days, oldest first


@dataclass
class Estate:
    account: str
    regions: tuple[str, ...]
    repositories: list[EstateRepository]
    now: datetime
    # The three demo VPCs (see estate_network), built in NETWORK_REGION by the full demo estate only.
    networks: dict[str, EstateVpc] = field(default_factory=dict)
    # The ECS part (see estate_ecs: clusters, services, hosts), built with the networks; an `EstateEcs`.
    ecs: Any = None

    def repository(self, region: str, name: str) -> EstateRepository:
        return next(r for r in self.repositories if r.region == region and r.name == name)


def _digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _manifest(layers: list[tuple[str, int]], config_seed: str, media_type: str = DOCKER_MANIFEST) -> str:
    oci = media_type == OCI_MANIFEST
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if oci
                   else "application/vnd.docker.container.image.v1+json",
                   "size": 1500 + len(config_seed), "digest": _digest("config:" + config_seed)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip" if oci else LAYER_TYPE,
                    "size": size, "digest": digest} for digest, size in layers],
    }, separators=(",", ":"))


def _base_layers(base: str) -> list[tuple[str, int]]:
    return [(_digest(f"base:{base}:{i}"), size) for i, size in enumerate(BASES[base])]


# -- the plan: what to create, decided up front and deterministically ----------------------------------

def plan_estate(seed: int = 7, repositories: int | None = None, images_per_repo: int | None = None,
                now: datetime | None = None) -> Estate:
    """Decide every repository, image, layer, tag and push time. `repositories` / `images_per_repo` give a
    uniform estate of that size (benchmarks); without them, the hand-shaped demo estate of ~40 repositories."""
    rng = random.Random(seed)
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    repos: list[EstateRepository] = []
    if repositories is not None:
        for i in range(repositories):
            region = REGIONS[i % len(REGIONS)]
            base = rng.choice(["alpine", "debian", "python", "node", "distroless"])
            repos.append(_plan_repository(rng, region, f"svc-{i:04d}", base, images_per_repo or 5, now,
                                          app_mb=(2, 40), untagged_share=0.2))
        return Estate(DEMO_ACCOUNT, REGIONS, repos, now)

    # (name, base, images, app layer MB range, untagged share, policy, tags)
    shapes = [
        ("payments-api", "python", 48, (8, 30), 0.25, None, {"team": "payments", "cost-center": "cc-101"}),
        ("checkout-web", "node", 60, (15, 60), 0.30, None, {"team": "storefront"}),
        ("orders-service", "jdk", 36, (20, 45), 0.20, "playbook", {"team": "orders", "cost-center": "cc-204"}),
        ("inventory-worker", "python", 22, (5, 15), 0.10, "untagged", {"team": "orders"}),
        ("ml-inference", "cuda", 14, (120, 400), 0.30, None, {"team": "ml"}),
        ("ml-training", "cuda", 9, (200, 600), 0.20, None, {}),
        ("auth-gateway", "distroless", 30, (8, 20), 0.15, "playbook", {"team": "identity"}),
        ("search-indexer", "jdk", 18, (30, 80), 0.25, None, {}),
        ("notifications", "node", 25, (4, 12), 0.20, "untagged", {"team": "comms"}),
        ("reporting-batch", "python", 12, (10, 35), 0.0, None, {"team": "finance", "ecrwise:retain": "true"}),
        ("legacy-monolith", "jdk", 40, (60, 150), 0.35, None, {}),
        ("statsd-exporter", "alpine", 6, (1, 4), 0.0, None, {}),
        ("edge-proxy", "alpine", 20, (2, 6), 0.10, "playbook", {"team": "platform"}),
        ("feature-flags", "node", 10, (3, 8), 0.10, None, {"team": "platform"}),
        ("image-resizer", "debian", 16, (12, 40), 0.15, None, {}),
        ("data-exporter", "python", 8, (6, 18), 0.0, None, {"team": "data"}),
        ("cron-runner", "alpine", 5, (1, 3), 0.0, None, {}),
        ("frontend-ssr", "node", 28, (20, 50), 0.20, None, {"team": "storefront"}),
        ("pdf-renderer", "debian", 11, (40, 90), 0.10, None, {}),
        ("old-experiment", "python", 7, (10, 30), 0.0, None, {}),
    ]
    for r_index, region in enumerate(REGIONS):
        for name, base, count, app_mb, untagged, policy, tags in shapes:
            if r_index == 1 and name in ("ml-training", "old-experiment"):
                continue  # the second region is a smaller copy
            n = count if r_index == 0 else max(3, count // 3)
            repo = _plan_repository(rng, region, name, base, n, now, app_mb=app_mb, untagged_share=untagged)
            repo.policy = {"playbook": PLAYBOOK_POLICY, "untagged": UNTAGGED_POLICY}.get(policy or "")
            repo.tags = dict(tags)
            # Pull traffic: busy services pull daily; some repositories nobody pulls any more.
            idle = name in ("old-experiment", "legacy-monolith", "cron-runner", "pdf-renderer")
            repo.daily_pulls = [0] * 30 if idle else [rng.randint(5, 400) for _ in range(30)]
            if idle:
                # Nothing pushed for months either: the playbook's "redundant" repositories.
                _age(repo, days=200)
            repos.append(repo)
        repos.append(_plan_multiarch(rng, region, now))
    return Estate(DEMO_ACCOUNT, REGIONS, repos, now)


def _age(repo: EstateRepository, days: int) -> None:
    for img in repo.images:
        img.pushed_at -= timedelta(days=days)


def _plan_repository(rng: random.Random, region: str, name: str, base: str, count: int, now: datetime, *,
                     app_mb: tuple[int, int], untagged_share: float) -> EstateRepository:
    repo = EstateRepository(region, name)
    base_layers = _base_layers(base)
    # Dependency layers change every few releases; consecutive images share them.
    deps: tuple[str, int] = (_digest(f"deps:{region}:{name}:0"), rng.randint(5, 40) * MB)
    span_days = 365
    major, minor, patch = 1, 0, 0
    for i in range(count):
        if i and i % 5 == 0:
            deps = (_digest(f"deps:{region}:{name}:{i}"), rng.randint(5, 40) * MB)
        app = (_digest(f"app:{region}:{name}:{i}"), rng.randint(*app_mb) * MB + rng.randint(0, MB))
        layers = base_layers + [deps, app]
        # Whole seconds: ECR reports push times to the second.
        pushed = (now - timedelta(days=span_days * (count - i) / count, minutes=rng.randint(0, 600))).replace(microsecond=0)
        if rng.random() < 0.2:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        sha = hashlib.sha1(f"{name}{i}".encode()).hexdigest()[:7]
        r = rng.random()
        if i < count - 1 and r < untagged_share:
            tags: list[str] = []  # a build whose tag moved on: an untagged leftover
        elif r < untagged_share + 0.35:
            tags = [f"v{major}.{minor}.{patch}"]
        elif r < untagged_share + 0.55:
            tags = [f"v{major}.{minor}.{patch}", sha]
        else:
            tags = [sha]
        media = OCI_MANIFEST if rng.random() < 0.3 else DOCKER_MANIFEST
        text = _manifest(layers, f"{region}:{name}:{i}", media)
        repo.images.append(EstateImage(_digest(text), tags, pushed, layers, media_type=media, manifest=text))
    repo.images[-1].tags = sorted(set(repo.images[-1].tags) | {"latest"})
    return repo


def _plan_multiarch(rng: random.Random, region: str, now: datetime) -> EstateRepository:
    """One multi-arch image: an OCI index (tagged) over two untagged platform manifests."""
    repo = EstateRepository(region, "platform/base-images", tags={"team": "platform"})
    repo.daily_pulls = [rng.randint(20, 90) for _ in range(30)]
    for version in range(3):
        children = []
        for arch in ("amd64", "arm64"):
            layers = _base_layers("debian") if arch == "amd64" else [(_digest("base:debian-arm64"), 28_400_000)]
            layers = layers + [(_digest(f"tools:{region}:{arch}:{version}"), rng.randint(30, 60) * MB)]
            text = _manifest(layers, f"{region}:base:{arch}:{version}", OCI_MANIFEST)
            pushed = now - timedelta(days=90 * (3 - version))
            children.append(EstateImage(_digest(text), [], pushed, layers, media_type=OCI_MANIFEST, manifest=text))
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": c.digest, "size": 900,
             "platform": {"architecture": arch, "os": "linux"}}
            for c, arch in zip(children, ("amd64", "arm64"))]}
        text = json.dumps(index, separators=(",", ":"))
        tags = [f"2.{version}.0"] + (["latest"] if version == 2 else [])
        repo.images.extend(children)
        repo.images.append(EstateImage(_digest(text), tags, children[0].pushed_at, [],
                                       children=[c.digest for c in children], media_type=OCI_INDEX,
                                       manifest=text))
    return repo


# -- building it through the API ---------------------------------------------------------------------

def _client(service: str, url: str, region: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=botocore.config.Config(max_pool_connections=32, retries={"max_attempts": 5}))


def _create_repository(ecr: Any, repo: EstateRepository) -> None:
    ecr.create_repository(repositoryName=repo.name, tags=[{"Key": k, "Value": v} for k, v in repo.tags.items()])
    # Children before their index, as a registry requires.
    for img in repo.images:
        kwargs: dict[str, Any] = {"repositoryName": repo.name, "imageManifest": img.manifest,
                                  "imageManifestMediaType": img.media_type, "imageDigest": img.digest}
        if img.tags:
            kwargs["imageTag"] = img.tags[0]
        ecr.put_image(**kwargs)
        for tag in img.tags[1:]:
            kwargs["imageTag"] = tag
            ecr.put_image(**kwargs)
    if repo.policy is not None:
        ecr.put_lifecycle_policy(repositoryName=repo.name, lifecyclePolicyText=json.dumps(repo.policy))


def _put_pull_metrics(cw: Any, repos: list[EstateRepository], now: datetime) -> None:
    # The stand-in accepts AWS/ECR data points from PutMetricData (AWS itself would not): it is how the
    # stand-in is given the RepositoryPullCount metrics ECR publishes. One point per day, at noon UTC.
    today = now.replace(hour=12, minute=0, second=0, microsecond=0)
    data = []
    for repo in repos:
        for back, pulls in enumerate(reversed(repo.daily_pulls)):
            if pulls:
                data.append({"MetricName": "RepositoryPullCount",
                             "Dimensions": [{"Name": "RepositoryName", "Value": repo.name}],
                             "Timestamp": today - timedelta(days=back), "Value": float(pulls), "Unit": "Count"})
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/ECR", MetricData=data[i:i + 1000])


def _set_times_in_state(estate: Estate) -> None:
    """Push and last-pull times, set in the in-process stand-in's state: moto's API stamps every push with
    "now" and never records pulls, and a realistic estate needs images pushed over a year."""
    from moto.backends import get_backend

    backend = get_backend("ecr")[estate.account]
    for repo in estate.repositories:
        planned = {img.digest: img for img in repo.images}
        for image in backend[repo.region].repositories[repo.name].images:
            plan = planned.get(image.image_digest)
            if plan is None:
                continue
            image.image_pushed_at = int(plan.pushed_at.timestamp())
            if repo.daily_pulls and any(repo.daily_pulls) and plan.tags:
                # Tagged images of a pulled repository were last pulled recently; the newest most recently.
                plan.last_pulled_at = estate.now - timedelta(hours=1 + 24 * (len(repo.images) - 1 - repo.images.index(plan)) // 4)
                image.last_recorded_pull_time = plan.last_pulled_at
