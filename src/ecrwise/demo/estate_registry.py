"""A small estate of what real registries hold beyond plain images: a signed image with an SBOM (OCI 1.1
referrers with a `subject`), a multi-arch index carrying a BuildKit attestation manifest (platform
unknown/unknown), an archived image, and an index whose manifest ECR does not return.

Everything is pushed through the stand-in's API as a CI would. moto 5.2 stores a pushed manifest's text but
does not derive DescribeImages' `subjectManifestDigest` / `artifactMediaType` from it, nor archive images, nor
ever lose a manifest body; those facts are set directly in the in-process stand-in's state, each where it is
done (moto serialises an attribute named after a field of the API shape). `RegistryEstate` says what was
made, so tests compute the expected bytes independently of ecrwise's collectors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ecrwise.demo.estate_ecr import OCI_INDEX, OCI_MANIFEST, _client, _digest, _manifest
from ecrwise.demo.standin import DEMO_ACCOUNT

REGION = "us-east-1"
REPLICA_REGION = "eu-west-1"
CACHE_PREFIX = "ecr-public"
CACHE_REPO = "ecr-public/library/nginx"
SIGNED_REPO = "signed-app"
ATTESTED_REPO = "attested-app"
NOTARY = "application/vnd.cncf.notary.signature"
SPDX = "application/spdx+json"


@dataclass
class Pushed:
    repository: str
    digest: str
    tags: list[str]
    pushed_at: datetime
    layers: list[tuple[str, int]]
    manifest: str
    media_type: str = OCI_MANIFEST
    subject: str | None = None
    artifact_type: str | None = None
    children: list[str] = field(default_factory=list)
    archived_at: datetime | None = None
    body_lost: bool = False  # ECR returns no manifest for it (set in state)


@dataclass
class RegistryEstate:
    account: str
    region: str
    now: datetime
    images: list[Pushed]

    def by_tag(self, tag: str) -> Pushed:
        return next(i for i in self.images if tag in i.tags)

    def of(self, repository: str) -> list[Pushed]:
        return [i for i in self.images if i.repository == repository]

    def replicated(self) -> list[Pushed]:
        """What the eu-west-1 copy of signed-app holds: the source's active images."""
        return [i for i in self.of(SIGNED_REPO) if i.archived_at is None]


def _referrer(repo: str, subject: "Pushed", artifact_type: str, size: int, seed: str) -> Pushed:
    layer = (_digest(f"blob:{seed}"), size)
    text = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
        "layers": [{"mediaType": artifact_type, "size": size, "digest": layer[0]}],
        "subject": {"mediaType": subject.media_type, "size": len(subject.manifest), "digest": subject.digest},
    }, separators=(",", ":"))
    return Pushed(repo, _digest(text), [], subject.pushed_at + timedelta(minutes=1), [layer], text,
                  subject=subject.digest, artifact_type=artifact_type)


def plan_registry_estate(now: datetime | None = None) -> RegistryEstate:
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    base = [(_digest("base:reg:0"), 30_000_000), (_digest("base:reg:1"), 4_000_000)]
    images: list[Pushed] = []

    def image(repo: str, tag: list[str], days: int, app: int, seed: str) -> Pushed:
        layers = base + [(_digest(f"app:{seed}"), app)]
        text = _manifest(layers, seed, OCI_MANIFEST)
        return Pushed(repo, _digest(text), tag, now - timedelta(days=days), layers, text)

    v0 = image(SIGNED_REPO, ["v0"], 200, 11_000_000, "signed:v0")
    v0.archived_at = now - timedelta(days=100)
    v1 = image(SIGNED_REPO, ["v1"], 60, 12_000_000, "signed:v1")
    v2 = image(SIGNED_REPO, ["v2"], 2, 13_000_000, "signed:v2")
    v1_sig = _referrer(SIGNED_REPO, v1, NOTARY, 7_000, "sig:v1")
    v1_sbom = _referrer(SIGNED_REPO, v1, SPDX, 300_000, "sbom:v1")
    v1_sbom_sig = _referrer(SIGNED_REPO, v1_sbom, NOTARY, 7_100, "sig:sbom:v1")
    v2_sig = _referrer(SIGNED_REPO, v2, NOTARY, 7_200, "sig:v2")
    images += [v0, v1, v2, v1_sig, v1_sbom, v1_sbom_sig, v2_sig]

    # A BuildKit multi-platform build with provenance: the index lists the platform manifest and an
    # attestation manifest (platform unknown/unknown) whose in-toto layer describes the former.
    amd = image(ATTESTED_REPO, [], 10, 20_000_000, "attested:amd64")
    intoto = (_digest("intoto:attested"), 1_900)
    att_text = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 167,
                                      "digest": _digest("att-config")},
                           "layers": [{"mediaType": "application/vnd.in-toto+json", "size": intoto[1],
                                       "digest": intoto[0]}]}, separators=(",", ":"))
    att = Pushed(ATTESTED_REPO, _digest(att_text), [], amd.pushed_at, [intoto], att_text)
    idx_text = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd.digest, "size": len(amd.manifest),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": OCI_MANIFEST, "digest": att.digest, "size": len(att_text),
         "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                         "vnd.docker.reference.digest": amd.digest}}]}, separators=(",", ":"))
    idx = Pushed(ATTESTED_REPO, _digest(idx_text), ["1.0"], amd.pushed_at, [], idx_text, media_type=OCI_INDEX,
                 children=[amd.digest, att.digest])
    # A second index whose body ECR will not return, over one untagged platform manifest.
    arm = image(ATTESTED_REPO, [], 5, 21_000_000, "attested:arm64")
    lost_text = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": arm.digest, "size": len(arm.manifest),
         "platform": {"architecture": "arm64", "os": "linux"}}]}, separators=(",", ":"))
    lost = Pushed(ATTESTED_REPO, _digest(lost_text), ["2.0"], arm.pushed_at, [], lost_text, media_type=OCI_INDEX,
                  children=[arm.digest], body_lost=True)
    images += [amd, att, idx, arm, lost]
    # A repository ECR created on the first pull through the cache rule for public.ecr.aws.
    nginx = image(CACHE_REPO, ["1.27"], 3, 8_000_000, "cache:nginx")
    images.append(nginx)
    return RegistryEstate(DEMO_ACCOUNT, REGION, now, images)


def build_registry_estate(url: str, now: datetime | None = None) -> RegistryEstate:
    estate = plan_registry_estate(now)
    ecr = _client("ecr", url, estate.region)
    for repo in (SIGNED_REPO, ATTESTED_REPO, CACHE_REPO):
        ecr.create_repository(repositoryName=repo)
    for img in estate.images:  # subjects and children before what references them
        _push(ecr, img)
    # Registry settings: signed-* repositories replicate to eu-west-1; a pull-through cache rule for
    # public.ecr.aws; a creation template for replicas that carries no lifecycle policy.
    ecr.put_replication_configuration(replicationConfiguration={"rules": [{
        "destinations": [{"region": REPLICA_REGION, "registryId": estate.account}],
        "repositoryFilters": [{"filter": "signed-", "filterType": "PREFIX_MATCH"}]}]})
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=CACHE_PREFIX, upstreamRegistryUrl="public.ecr.aws")
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"], imageTagMutability="MUTABLE")
    # moto does not replicate: the copy ECR would make in eu-west-1 (the active images, as pushed) is pushed
    # there through the API instead.
    replica = _client("ecr", url, REPLICA_REGION)
    replica.create_repository(repositoryName=SIGNED_REPO)
    for img in estate.replicated():
        _push(replica, img)
    _set_state(estate)
    return estate


def _push(ecr: Any, img: Pushed) -> None:
    kwargs: dict[str, Any] = {"repositoryName": img.repository, "imageManifest": img.manifest,
                              "imageManifestMediaType": img.media_type, "imageDigest": img.digest}
    if img.tags:
        kwargs["imageTag"] = img.tags[0]
    ecr.put_image(**kwargs)


class _BodylessImage:
    """Mixed into one stand-in image so BatchGetImage returns it without a manifest body, as ECR sometimes
    does, while DescribeImages (which moto sizes from the body) still answers."""

    @property
    def image_manifest(self) -> str:
        return ""

    @image_manifest.setter
    def image_manifest(self, value: str) -> None:
        self.__dict__["_kept_manifest"] = value

    def get_image_size_in_bytes(self) -> int | None:
        return len(self.__dict__.get("_kept_manifest", ""))


def _set_state(estate: RegistryEstate) -> None:
    from moto.backends import get_backend

    planned = {(i.repository, i.digest): i for i in estate.images}
    repos = [(estate.region, n) for n in (SIGNED_REPO, ATTESTED_REPO, CACHE_REPO)] + [(REPLICA_REGION, SIGNED_REPO)]
    for region, name in repos:
        backend = get_backend("ecr")[estate.account][region]
        for image in backend.repositories[name].images:
            plan = planned[(name, image.image_digest)]
            # moto stamps every push "now"; the estate needs ages.
            image.image_pushed_at = int(plan.pushed_at.timestamp())
            if plan.subject is not None:
                # ECR reports a referrer's subject and artifact type in DescribeImages; moto does not derive them.
                image.subject_manifest_digest = plan.subject
                image.artifact_media_type = plan.artifact_type
            if plan.archived_at is not None:
                # moto has no archive storage class: the image's status and archive time are set here.
                image.image_status = "ARCHIVED"
                image.last_archived_at = int(plan.archived_at.timestamp())
            if plan.body_lost:
                text = image.image_manifest
                image.__class__ = type("BodylessImage", (_BodylessImage, type(image)), {})
                image.image_manifest = text
