"""One parser for container image references, shared by "in use" (which images a workload protects) and the
pull analysis (where a pull comes from).

The grammar is the one Docker and every OCI client apply, `name [":" tag] ["@" digest]` with
`name = [registry "/"] path` (distribution/reference, https://github.com/distribution/reference), which is what
the ECS `ContainerDefinition.image` parameter passes to the container runtime: "Other repositories are
specified with either repository-url/image:tag or repository-url/image@digest"
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html). The first component
is a registry only if it has a "." or a ":" or is "localhost"; otherwise the reference is Docker Hub's.

An ECR private registry is `ACCOUNT.dkr.ecr.REGION.amazonaws.com` (`.amazonaws.com.cn` in the China regions,
`dkr.ecr-fips` for the FIPS endpoints) or, dual-stack, `ACCOUNT.dkr-ecr.REGION.on.aws`
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-requests.html). Its repository names follow the
ECR API's pattern `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`
(https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Repository.html); ECS accepts only sha256
digests of exactly 64 hex characters.

A reference with neither tag nor digest means `:latest`, as every client resolves it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.(?:dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"|dkr-ecr\.(?P<ds_region>[a-z0-9-]+)\.on\.aws)$")
# distribution/reference's grammar.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?$")
_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_ECR_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_ECR_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class InvalidImageRef(ValueError):
    """Text that is not an image reference any registry would serve."""


@dataclass(frozen=True)
class ImageRef:
    registry: str | None  # host[:port] as written; None when the reference names none (Docker Hub)
    repository: str  # the path inside the registry
    tag: str | None  # "latest" when neither tag nor digest is given
    digest: str | None
    account: str | None = None  # ECR private registries only
    region: str | None = None

    @property
    def is_ecr(self) -> bool:
        return self.account is not None

    @property
    def name(self) -> str:
        """Registry and repository as written (`nginx`, `ghcr.io/a/b`, `ACCOUNT.dkr.ecr…/team/app`)."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def repo_key(self) -> tuple[str, str, str]:
        """(account, region, repository): how a snapshot names an ECR repository."""
        return (str(self.account), str(self.region), self.repository)


def ecr_image(account: str, region: str, repository: str, digest: str) -> ImageRef:
    """The reference to one image of an ECR repository by its digest."""
    return ImageRef(f"{account}.dkr.ecr.{region}.amazonaws.com", repository, None, digest, account, region)


def split_image_ref(text: str) -> ImageRef:
    """The parts of a reference by its delimiters alone (digest after the last "@", tag after a ":" in the
    last path component, registry by the first-component rule), without checking each part's grammar.
    `parse_image_ref` is this plus the checks."""
    text = text.strip()
    rest, digest = (text.rsplit("@", 1) + [None])[:2] if "@" in text else (text, None)
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
    registry = None
    first, _, path = rest.partition("/")
    if path and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, path
    if tag is None and digest is None:
        tag = "latest"
    account = region = None
    m = _ECR_HOST.match(registry or "")
    if m:
        account, region = m["account"], m["region"] or m["ds_region"]
    return ImageRef(registry, rest, tag, digest, account, region)


def parse_image_ref(text: str) -> ImageRef:
    """`text` as an image reference; raises `InvalidImageRef` naming the part that breaks the grammar."""
    ref = split_image_ref(text)
    if ref.registry is not None and not _DOMAIN.match(ref.registry):
        raise InvalidImageRef(f"{text!r}: {ref.registry!r} is not a registry host")
    if not (_ECR_REPOSITORY if ref.is_ecr else _PATH).match(ref.repository):
        raise InvalidImageRef(f"{text!r}: {ref.repository!r} is not a repository name")
    if ref.tag is not None and not _TAG.match(ref.tag):
        raise InvalidImageRef(f"{text!r}: {ref.tag!r} is not a tag")
    if ref.digest is not None and not (_ECR_DIGEST if ref.is_ecr else _DIGEST).match(ref.digest):
        raise InvalidImageRef(f"{text!r}: {ref.digest!r} is not a digest")
    return ref


_RUNTIME_PREFIXES = ("docker-pullable://", "docker://", "containerd://")


def image_id_reference(image_id: str | None, spec_image: str | None) -> tuple[str, str] | None:
    """What a Kubernetes container status's `imageID` says runs: (reference text, digest), or None.

    The kubelet reports it in the runtime's form: `docker-pullable://REPO@sha256:…` (dockershim), `REPO@sha256:…`
    (containerd and CRI-O when the image came from a registry), or a bare `sha256:…` (digest only; then the
    repository is the one the container's spec image names)."""
    text = (image_id or "").strip()
    for prefix in _RUNTIME_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    if not text:
        return None
    if "@" in text:
        ref = split_image_ref(text)
        return (text, ref.digest) if ref.digest else None
    if _DIGEST.match(text) and spec_image:
        return split_image_ref(spec_image).name + "@" + text, text
    return None
