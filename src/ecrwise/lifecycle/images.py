"""The images a lifecycle policy is evaluated against, and the offline JSON document that carries them.

`LifecycleImage` is deliberately lean (no validation in the constructor): the engine builds a million of
these in the benchmark, and every input path (the offline document, the snapshot store) validates before
it constructs one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from ecrwise.errors import UserError
from ecrwise.inputs import json_path as _json_path
from ecrwise.inputs import load_document

STANDARD = "standard"
ARCHIVE = "archive"


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleImage:
    digest: str
    tags: tuple[str, ...]
    # Aware datetimes in UTC; the engine compares them with the evaluation time.
    pushed_at: datetime
    repository: str = ""
    # ECR's lastRecordedPullTime; None when the image was never pulled.
    last_pulled_at: datetime | None = None
    storage_class: str = STANDARD
    # ECR's lastArchivedAt: when the image moved to the archive class.
    archived_at: datetime | None = None
    # (layer digest, compressed size in bytes) for every layer the manifest references.
    layers: tuple[tuple[str, int], ...] = ()
    # For an image index (multi-arch): digests of the child manifests it references.
    manifests: tuple[str, ...] = ()
    # A referrer (signature, SBOM, attestation): its subject's digest. Rules neither select nor count it;
    # it goes when its subject is expired or archived (see engine._follow_subjects).
    subject: str | None = None
    # An image index whose manifest ECR did not return: which images it holds is unknown.
    children_unknown: bool = False

    @property
    def naive_bytes(self) -> int:
        """Sum of this image's layer sizes, counting layers shared with other images again."""
        return sum(size for _, size in self.layers)


# --- the offline document -------------------------------------------------------------------------


def _utc(v: datetime) -> datetime:
    if v.tzinfo is None or v.utcoffset() is None:
        # A time without an offset is ambiguous; guessing UTC would silently shift ages by hours.
        raise ValueError("datetime has no timezone; add 'Z' or an offset such as +00:00")
    try:
        return v.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in year 10000 in UTC, past datetime's range
        raise ValueError("datetime out of range in UTC") from None


# A TypedDict, not a model: validated the same (in pydantic's core), but a layer becomes a plain dict, which is
# several times faster than a model instance per layer in a million-image document.
@with_config(ConfigDict(extra="forbid"))
class _Layer(TypedDict):
    digest: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]  # ECR reports sizes as a 64-bit long


class _Image(BaseModel):
    # Unknown keys are ignored so documents exported from other tools (with extra fields) still load.
    model_config = ConfigDict(extra="ignore")
    repository: str = ""
    digest: str = Field(min_length=1)
    tags: list[str]
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    storage_class: Literal["standard", "archive"] = "standard"
    archived_at: datetime | None = None
    layers: list[_Layer] = []
    manifests: list[str] = []
    subject: str | None = Field(default=None, min_length=1)

    @field_validator("pushed_at", "last_pulled_at", "archived_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        return None if v is None else _utc(v)

    @field_validator("storage_class", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        # DescribeImages reports STANDARD / ARCHIVE in upper case; policies use lower case.
        return v.lower() if isinstance(v, str) else v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for t in v:
            if not t:
                raise ValueError("a tag cannot be the empty string")
        return v


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore")
    images: list[_Image]


# A frozen dataclass's __init__ assigns every field through object.__setattr__: 4.4 us an image on this machine,
# 2.5 us setting the slots directly, which the streaming reader, `Evaluation.slim` and the row spool do for each
# of millions of images.
_SLOT = {name: LifecycleImage.__dict__[name].__set__ for name in LifecycleImage.__slots__}
_new = object.__new__


def new_image(repository: str, digest: str, tags: tuple[str, ...], pushed_at: datetime,
              last_pulled_at: datetime | None, storage_class: str, archived_at: datetime | None,
              layers: tuple[tuple[str, int], ...], manifests: tuple[str, ...], subject: str | None,
              children_unknown: bool = False, _s: dict[str, Any] = _SLOT) -> LifecycleImage:
    """LifecycleImage(...) with every field given and already valid, built without the dataclass's __init__."""
    im = _new(LifecycleImage)
    _s["repository"](im, repository)
    _s["digest"](im, digest)
    _s["tags"](im, tags)
    _s["pushed_at"](im, pushed_at)
    _s["last_pulled_at"](im, last_pulled_at)
    _s["storage_class"](im, storage_class)
    _s["archived_at"](im, archived_at)
    _s["layers"](im, layers)
    _s["manifests"](im, manifests)
    _s["subject"](im, subject)
    _s["children_unknown"](im, children_unknown)
    return im


def _first_line(msg: str) -> str:
    return msg.splitlines()[0] if msg else msg


def problems(e: ValidationError, source: str, at: tuple[str | int, ...] = ()) -> str:
    """A validation error as lines `source: json.path: message`; `at` is the path of what was validated (an
    image validated alone by the streaming reader is `("images", i)`)."""
    lines = []
    for err in e.errors(include_url=False):
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"].startswith("datetime"):
            msg = f"invalid datetime ({msg})"
        elif err["loc"] and err["loc"][-1] in ("pushed_at", "last_pulled_at", "archived_at"):
            msg = f"invalid datetime: {msg}"
        lines.append(f"{source}: {_json_path((*at, *err['loc']))}: {_first_line(msg)}")
    return "\n".join(lines)


def image_of(im: _Image) -> LifecycleImage:
    """The engine's image of one validated document image."""
    return LifecycleImage(repository=im.repository, digest=im.digest, tags=tuple(im.tags), pushed_at=im.pushed_at,
                          last_pulled_at=im.last_pulled_at, storage_class=im.storage_class,
                          archived_at=im.archived_at,
                          layers=tuple((layer["digest"], layer["size"]) for layer in im.layers),
                          manifests=tuple(im.manifests), subject=im.subject)


class DocumentRules:
    """The rules that span images of one document, checked image by image in document order. Both the exact
    loader and the streaming reader (images_stream) use this one checker; a breach raises UserError naming
    `source` and the JSON path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: dict[tuple[str, str], int] = {}
        self.tag_owner: dict[tuple[str, str], int] = {}

    def check(self, i: int, repository: str, digest: str, tags: Any, storage_class: str,
              archived_at: datetime | None) -> None:
        key = (repository, digest)
        first = self.seen.setdefault(key, i)
        if first != i:
            raise UserError(f"{self.source}: images[{i}].digest: {digest} appears twice in repository "
                            f"{repository!r} (first at images[{first}])")
        for j, tag in enumerate(tags):
            # In ECR a tag names exactly one image per repository; two owners means a broken export.
            owner = self.tag_owner.setdefault((repository, tag), i)
            if owner != i:
                raise UserError(f"{self.source}: images[{i}].tags[{j}]: tag {tag!r} is also on images[{owner}] "
                                f"in repository {repository!r}; a tag names one image")
        if storage_class == ARCHIVE and archived_at is None:
            raise UserError(f"{self.source}: images[{i}].archived_at: required when storage_class is archive "
                            "(sinceImageTransitioned counts from it)")


def parse_images_document(data: Any, source: str = "images") -> list[LifecycleImage]:
    """Validate an already-decoded document; errors name `source` and the JSON path of each problem."""
    try:
        doc = _Document.model_validate(data)
    except ValidationError as e:
        raise UserError(problems(e, source)) from None
    rules = DocumentRules(source)
    images: list[LifecycleImage] = []
    for i, im in enumerate(doc.images):
        rules.check(i, im.repository, im.digest, im.tags, im.storage_class, im.archived_at)
        images.append(image_of(im))
    return images


# An images document is the one user file that grows with the registry: about 880 bytes an image with three
# layers (bench/offline_simulate_bench.py), so this is about two million images. Other files keep
# inputs.MAX_BYTES.
MAX_IMAGES_BYTES = 2 * 2**30


def load_images_document_exact(path: str | Path) -> list[LifecycleImage]:
    """Read `{"images": [...]}` from `path` through the one loader and the models above. Bad input raises
    UserError naming the file and JSON path. `images_stream.load_images_document` calls this whenever its
    streaming reader defers."""
    p = Path(path)
    return parse_images_document(load_document(p, what="images document", source=p.name,
                                               max_bytes=MAX_IMAGES_BYTES), source=p.name)


def image_to_document(im: LifecycleImage) -> dict[str, Any]:
    """The inverse of the loader, for exporting and for tests."""
    def iso(d: datetime | None) -> str | None:
        return None if d is None else d.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    return {
        "repository": im.repository,
        "digest": im.digest,
        "tags": list(im.tags),
        "pushed_at": iso(im.pushed_at),
        "last_pulled_at": iso(im.last_pulled_at),
        "storage_class": im.storage_class,
        "archived_at": iso(im.archived_at),
        "layers": [{"digest": d, "size": s} for d, s in im.layers],
        "manifests": list(im.manifests),
        **({"subject": im.subject} if im.subject else {}),
    }
