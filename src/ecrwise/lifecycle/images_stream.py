"""The offline images document read a run of whole images at a time by msgspec (issue 11).

A million-image document is about 840 MiB. The exact loader (`ecrwise.inputs.load_document`, then pydantic in
`images.parse_images_document`) holds all of it as text, then as json's dicts, then as one model per image: 6 GiB
and over two minutes. This reader keeps one run of about `RUN_BYTES` of the file at a time, decodes it with
msgspec into typed structs (https://jcristharif.com/msgspec/structs.html) and builds the engine's images from
them, sharing each repository name and each layer's (digest, size) pair between the images that hold them.

It is optimistic, with the exact loader behind it: it returns the images only when it has checked every rule
the exact loader applies, the way that loader applies it. On anything else it returns None and the caller runs
the exact loader, which gives its images or its messages as ever. What makes it defer:

- any error at all (bad JSON, bad UTF-8, a schema error, a digest or tag twice, an archived image without
  archived_at): the exact loader reports every schema error with its JSON path, so it writes the message;
- a top level other than `{"images": [...]}` with that one key;
- a backslash where brackets must be counted to find where an image ends (an escaped quote is not a string's
  end), which is only where a run cannot be cut at the key every image opens with;
- a run with members the structs do not hold (an unknown key, or a key twice, which msgspec settles silently by
  keeping the last) or with an escape: that run is parsed again by the exact JSON rules (`inputs.parse_json`:
  duplicates, over-long integers, NaN, depth), and any refusal defers;
- a time not in the one common RFC 3339 form, or a storage class other than standard/archive in any case: that
  image alone is validated by the exact loader's pydantic model, and its refusal defers.

`read_images` holds the whole document's images. `fold_repositories` holds one repository's at a time when the
document keeps each repository's images together, else one partition of them (`repository_groups`: a first pass
splits the structs by repository into temporary files, a second builds one partition at a time); it raises
`Deferred` where `read_images` returns None, and reads a document of any size. `fold_document` (what `lifecycle
simulate --images` uses) runs the exact loader on a deferral, or, for a document larger than the exact loader
reads (MAX_IMAGES_BYTES), raises the first problem the reader met, worded as the exact loader words it where it
can be (the JSON path counts images from the document's start).
"""
from __future__ import annotations

import gc
import os
import re
import tempfile
import zlib
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Callable, Iterable, Iterator, Sequence, TypeVar

import msgspec
from msgspec.structs import astuple
from pydantic import ValidationError

from ecrwise.errors import UserError
from ecrwise.inputs import MAX_BYTES, MAX_DEPTH, parse_json
from ecrwise.lifecycle.images import (ARCHIVE, MAX_IMAGES_BYTES, STANDARD, DocumentRules, LifecycleImage,
                                      image_of, load_images_document_exact, new_image,
                                      problems)
from ecrwise.lifecycle.images import _Image as _Model
from ecrwise.lifecycle.simulate import group_by_repository

# Read and decoded at a time: large enough that the per-run work is small beside the decode, small enough that a
# run's structs are a few tens of MiB.
RUN_BYTES = 8 * 2**20

_BOM = b"\xef\xbb\xbf"
_WS = b" \t\n\r"  # JSON's whitespace (RFC 8259 section 2); bytes.strip's default would take \v and \f too
_HEAD = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"images"[ \t\n\r]*:[ \t\n\r]*\[')
_KEEP = b'"{}[]'
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in _KEEP)  # bytes.translate's deletion table
# RFC 3339 as ecrwise, the AWS CLI and most exporters write it; datetime.fromisoformat and pydantic read these
# alike (held equal by tests/unit/lifecycle/test_images_stream.py). Anything else goes to pydantic.
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})")
# An object's opening up to its first key, the key's quotes included: `{"repository"`.
_OPENING = re.compile(rb'\{[ \t\n\r]*"[^"\\]*"')
_UNSET = msgspec.UNSET
T = TypeVar("T")


class _Defer(Exception):
    """Something only the exact loader may judge; `why` is the first problem met (a UserError's wording: the
    file, the JSON path where it is known, what is wrong), or what the reader could not be sure of."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class _Layer(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    digest: _NonEmpty
    size: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class _Image(msgspec.Struct, gc=False):
    # UNSET says a key was absent, so the members decoded can be counted against the members in the text.
    # The exact loader's constraints that msgspec can state; a breach is an error, so the whole document defers.
    digest: _NonEmpty
    tags: list[_NonEmpty]
    pushed_at: Any
    repository: str | msgspec.UnsetType = _UNSET
    last_pulled_at: Any = _UNSET
    storage_class: str | msgspec.UnsetType = _UNSET
    archived_at: Any = _UNSET
    layers: list[_Layer] | msgspec.UnsetType = _UNSET
    manifests: list[str] | msgspec.UnsetType = _UNSET
    subject: _NonEmpty | None | msgspec.UnsetType = _UNSET


# The document's JSON held as engine images at a time by `repository_groups`: a 32 MiB share of the 1M-image
# bench document is about 38,000 images.
PARTITION_BYTES = 32 * 2**20
# At most this many partitions (open temporary files, well under the usual limit of 1,024 descriptors): up to
# 8 GiB of document they are PARTITION_BYTES each, beyond it larger.
MAX_PARTITIONS = 256

_OPTIONAL = ("repository", "last_pulled_at", "storage_class", "archived_at", "layers", "manifests", "subject")
_DECODER = msgspec.json.Decoder(list[_Image])
_PAIRS = msgspec.json.Decoder(list[tuple[int, _Image]])  # a partition: (index in the document, image)
# The most one image's JSON may take (inputs.MAX_BYTES, the cap of every other file): the reader holds it whole.
MAX_IMAGE_BYTES = MAX_BYTES
_ENCODER = msgspec.json.Encoder()


def load_images_document(path: str | Path) -> list[LifecycleImage]:
    """Read `{"images": [...]}` from `path`: streamed when the reader below can be sure of the exact loader's
    result, otherwise (and for every error, which the exact loader words) by the exact loader."""
    p = Path(path)
    fast = read_images(p, MAX_IMAGES_BYTES)
    return fast if fast is not None else load_images_document_exact(p)


@contextmanager
def _gc_off() -> Iterator[None]:
    # No cycles are made here; a collection would walk every image built so far, which made reading a million
    # images take 38.5 s instead of 28.8 s (one run each).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # What was built here is acyclic and is kept until its repository is judged: moved out of the
            # collector's generations, so the collection the enable sets off does not walk it (reference counting
            # still frees it; a shuffled million-image document: 51-52 s against 55-58 s). The reader's callers
            # give them back with gc.unfreeze. https://docs.python.org/3/library/gc.html#gc.freeze
            gc.freeze()
            gc.enable()


def read_images(path: Path, max_bytes: int, run_bytes: int = RUN_BYTES) -> list[LifecycleImage] | None:
    """The document's LifecycleImages, or None when the exact loader must read it (see the module's docstring)."""
    try:
        with _gc_off(), open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > max_bytes:
                return None
            return _Builder(path.name).build(_runs(f, run_bytes, path.name))
    except (OSError, ValueError, _Defer, msgspec.MsgspecError, UserError):
        return None
    finally:
        gc.unfreeze()


def fold_repositories(path: Path, fold: Callable[[Iterator[tuple[str, list[LifecycleImage]]]], T], *,
                      run_bytes: int = RUN_BYTES, partition_bytes: int = PARTITION_BYTES) -> T:
    """`fold` of the document's repositories, each as (name, its images), exactly as the exact loader would
    return them; raises Deferred where `read_images` returns None (`fold` may have seen some repositories).

    One pass when each repository's images lie together in the document (as an export of `aws ecr
    describe-images` per repository writes them): a repository is handed on when the next begins. When one
    turns up again after others, `fold` is called once more, from the start, with `repository_groups`. So
    `fold` must start afresh on each call. A document of any size is read: what is held is one run, one
    repository (at most 100,000 images by ECR's default quota) or one partition."""
    try:
        return fold(_in_document_order(path, run_bytes))
    except _Interleaved:
        return fold(repository_groups(path, run_bytes=run_bytes, partition_bytes=partition_bytes))
    finally:
        gc.unfreeze()  # what `_gc_off` froze goes back to the collector


class _Interleaved(Exception):
    """A repository's images are not all together in the document."""


def _in_document_order(path: Path, run_bytes: int) -> Iterator[tuple[str, list[LifecycleImage]]]:
    with _deferring(path.name), open(path, "rb") as f:
        done: set[str] = set()
        name: str | None = None
        builder = _Builder(path.name, share_layers=False)
        seen = 0
        for text, structs in _runs(f, run_bytes, path.name):
            _run_members(text, structs, path.name, seen)
            for repository, same in groupby(enumerate(structs, seen), _repository_at):
                if repository != name:
                    if name is not None:
                        done.add(name)
                        # The rules span one repository (DocumentRules), so each gets its own builder.
                        yield name, builder.images
                        builder = _Builder(path.name, share_layers=False)
                    if repository in done:
                        raise _Interleaved
                    name = repository
                with _gc_off():
                    builder.images_of(same)
            seen += len(structs)
            del structs, text
        if name is not None:
            yield name, builder.images


def _repository_of(s: _Image) -> str:
    return "" if s.repository is _UNSET else s.repository


def _repository_at(pair: tuple[int, _Image]) -> str:
    return _repository_of(pair[1])


class Deferred(Exception):
    """`fold_repositories` or `repository_groups` cannot be sure of the exact loader's result: the caller drops
    what it was given and runs the exact loader (`images.load_images_document_exact`), which returns the images
    or words the error. `why` is the first problem the reader met, worded as a UserError, for a document too
    large for the exact loader (see `fold_document`)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@contextmanager
def _deferring(source: str) -> Iterator[None]:
    """Any reason to defer, as Deferred with the reader's wording of it."""
    try:
        yield
    except _Defer as e:
        raise Deferred(e.why or f"{source}: not read by the streaming reader") from None
    except UserError as e:
        raise Deferred(str(e)) from None
    except OSError as e:
        raise Deferred(f"{source}: {e.strerror or e}") from None
    except (ValueError, msgspec.MsgspecError) as e:
        raise Deferred(f"{source}: {e}") from None


def fold_document(path: Path, fold: Callable[[Iterable[tuple[str, Sequence[LifecycleImage]]]], T]) -> T:
    """`fold_repositories`, with the exact loader's reading when it defers (what `fold` saw is dropped). The exact
    loader holds the document and reads at most MAX_IMAGES_BYTES; a larger document is only streamed, and a
    deferral is the UserError of the first problem the streaming reader met."""
    try:
        return fold_repositories(path, fold)
    except Deferred as e:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if size > MAX_IMAGES_BYTES:
            raise UserError(f"{e.why}\n{path.name}: larger than {MAX_IMAGES_BYTES // 2**20} MiB, so only the "
                            "streaming reader reads it, and it stopped at the problem above (the exact loader, "
                            "which lists every problem, reads up to that size)") from None
    return fold(group_by_repository(load_images_document_exact(path)).items())


def repository_groups(path: Path, *, run_bytes: int = RUN_BYTES,
                      partition_bytes: int = PARTITION_BYTES) -> Iterator[tuple[str, list[LifecycleImage]]]:
    """Each repository's images, one repository at a time (in no set order), exactly as the exact loader would
    return them; raises Deferred (possibly after some repositories were yielded) where `read_images` returns None.

    Bounded memory for a document of any order: a first pass reads it a run at a time, checks it as
    `read_images` does and splits its images by repository into partitions of about `partition_bytes` of JSON
    (more when the document is over MAX_PARTITIONS of them), each written (as msgspec re-encodes the structs,
    each with its index in the document) to a temporary file; a second pass builds and judges one partition's
    images at a time. A document under `partition_bytes` stays in memory as one partition."""
    with _deferring(path.name), ExitStack() as stack:
        f = stack.enter_context(open(path, "rb"))
        size = os.fstat(f.fileno()).st_size
        spill = _Partitions(min(MAX_PARTITIONS, max(1, -(-size // partition_bytes))), stack)
        with _gc_off():
            spill.fill(_runs(f, run_bytes, path.name), path.name)
        for pairs in spill.each():
            with _gc_off():
                images = _Builder(path.name, share_layers=False).images_of(pairs)
            del pairs
            groups = group_by_repository(images)
            del images
            while groups:
                yield groups.popitem()


class _Partitions:
    """The document's image structs, each with its index in the document, split by repository into `k`
    partitions, every repository's images in one. With k > 1 each partition is its pairs' JSON,
    comma-separated, in an unnamed temporary file."""

    def __init__(self, k: int, stack: ExitStack) -> None:
        self.k = k
        self.files = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(k)] if k > 1 else []
        self.used = [False] * k
        self.kept: list[tuple[int, _Image]] = []
        self.of: dict[Any, int] = {}

    def fill(self, runs: Iterator[tuple[bytes, list[_Image]]], source: str) -> None:
        k, of = self.k, self.of
        seen = 0
        for text, structs in runs:
            if k == 1:
                encoded = [_ENCODER.encode(structs)]
                self.kept.extend(enumerate(structs, seen))
            else:
                parts: list[list[tuple[int, _Image]]] = [[] for _ in range(k)]
                for pair in enumerate(structs, seen):
                    s = pair[1]
                    p = of.get(s.repository)
                    if p is None:  # crc32, not hash(): the same partitions in every run
                        p = of[s.repository] = zlib.crc32(_repository_of(s).encode("utf-8", "surrogatepass")) % k
                    parts[p].append(pair)
                # An index is digits and brackets: the pairs' colons are the structs' colons.
                encoded = [_ENCODER.encode(part) for part in parts]
                for p, e in enumerate(encoded):
                    if len(e) > 2:  # not `[]`
                        self.files[p].write(e[1:-1] if not self.used[p] else b"," + e[1:-1])
                        self.used[p] = True
            _members(text, sum(e.count(b":") for e in encoded), source, seen)
            seen += len(structs)

    def each(self) -> Iterator[list[tuple[int, _Image]]]:
        if self.k == 1:
            kept, self.kept = self.kept, []
            yield kept
            return
        for f, used in zip(self.files, self.used):
            if used:
                f.seek(0)
                yield _PAIRS.decode(b"[" + f.read() + b"]")
                f.truncate(0)


# -- the text: runs of whole images -------------------------------------------------------------------------

def _runs(f: BinaryIO, run_bytes: int, source: str) -> Iterator[tuple[bytes, list[_Image]]]:
    """The images array a run of whole images at a time: (the run's text `e1,e2,...`, its decoded structs).

    A run is cut where an image starts: at the last place in what was read that an object opens with the key
    the first image opens with (`{"repository"`, as every image from one exporter starts). Only a cut between
    two elements of the array decodes as an array (anywhere inside an element, the element's brackets are
    left open), so the decode proves the cut; when it fails, the cut is found by counting brackets outside
    strings instead. A problem is worded with the index of the images it is in."""
    seen = 0
    try:
        data = f.read(max(run_bytes, 2**16))  # the opening `{"images": [` is in it unless whitespace pads it out
        if data.startswith(_BOM):
            data = data[len(_BOM):]
        head = _HEAD.match(data)
        if head is None:
            raise _Defer(f'{source}: does not open with {{"images": [')
        data = data[head.end():].lstrip(_WS)
        opening = _OPENING.match(data)
        marker = opening.group() if opening else None
        while True:
            more = f.read(run_bytes)
            data += more
            if not more:
                text = _before_end(data, source)
                structs = _decode(text)
                yield text, structs
                return
            if len(data) < run_bytes:
                continue
            run = _cut(data, marker)
            if run is None:  # one image longer than a run: read on, as far as one image may take
                if len(data) > MAX_IMAGE_BYTES + run_bytes:
                    raise _Defer(f"{source}: images[{seen}]: more than {MAX_IMAGE_BYTES // 2**20} MiB of JSON, "
                                 "or no end of an image found")
                continue
            text, structs, data = run
            yield text, structs
            seen += len(structs)
    except _Defer as e:
        raise _Defer(_located(e.why, source, seen)) from None
    except msgspec.DecodeError as e:
        raise _Defer(f"{source}: not JSON the reader could read ({e}) in the images from images[{seen}] on") from None


def _located(why: str, source: str, seen: int) -> str:
    """msgspec's path `$[k]...` within a run, as the document's `images[seen + k]...`."""
    if why.startswith(f"{source}:"):
        return why
    if "`$[" in why:
        return f"{source}: " + re.sub(r"`\$\[(\d+)\]", lambda m: f"`images[{seen + int(m.group(1))}]", why)
    return f"{source}: {why} (in the images from images[{seen}] on)"


def _decode(text: bytes) -> list[_Image]:
    try:
        return _DECODER.decode(b"[" + text + b"]")
    except msgspec.ValidationError as e:
        raise _Defer(str(e)) from None


def _cut(data: bytes, marker: bytes | None) -> tuple[bytes, list[_Image], bytes] | None:
    """(a run of whole images, its structs, the rest of `data` from the next image on), or None."""
    p = data.rfind(marker) if marker else -1
    if p > 0:
        text = data[:p].rstrip(_WS)
        if text.endswith(b","):
            try:
                return text[:-1], _decode(text[:-1]), data[p:]
            except msgspec.DecodeError:  # not between two images (the key opens an object nested in one)
                pass
    if b"\\" in data:  # bracket counting needs every quote to delimit a string
        raise _Defer("an escaped character (\\) where the end of an image had to be found by counting brackets")
    end = _last_boundary(data)
    if end is None:
        return None
    rest = data[end:].lstrip(_WS)
    if not rest.startswith(b","):
        return None  # the array ends here (or the text is not JSON): the last run judges it
    return data[:end], _decode(data[:end]), rest[1:].lstrip(_WS)


def _before_end(data: bytes, source: str) -> bytes:
    """The last run: the text before the `]}` that ends the document (whitespace around them allowed)."""
    text = data.rstrip(_WS)
    if not text.endswith(b"}"):
        raise _Defer(f"{source}: does not end with ]}}")
    text = text[:-1].rstrip(_WS)
    if not text.endswith(b"]"):
        raise _Defer(f"{source}: does not end with ]}}")
    # If that `]` does not close the images array, `[` + the rest + `]` is not one JSON array and the decode
    # refuses it (the same proof as a cut's).
    return text[:-1].rstrip(_WS)


def _structure(seg: bytes, inside: bool) -> tuple[int, bool]:
    """(opened minus closed brackets outside strings, whether it ends inside a string) of `seg`, which starts
    inside a string when `inside`. Without backslashes (the reader defers on any) every quote delimits a string."""
    s = seg.translate(None, _NOT_STRUCTURE)
    quotes = s.count(b'"')
    if quotes:
        pieces = s.split(b'"')
        s = b"".join(pieces[1::2] if inside else pieces[0::2])
        inside ^= bool(quotes & 1)
    elif inside:
        return 0, True
    return s.count(b"{") + s.count(b"[") - s.count(b"}") - s.count(b"]"), inside


def _last_boundary(data: bytes) -> int | None:
    """Just past the last `}` of `data` that ends an element of the images array, or None."""
    c = data.rfind(b"}")
    if c < 0:
        return None
    net, inside = _structure(data[:c + 1], False)
    while True:
        if net == 0 and not inside:
            return c + 1
        if net < 0:  # past the array's end: the last run takes the rest
            return None
        prev = data.rfind(b"}", 0, c)
        if prev < 0:
            return None
        seg = data[prev + 1:c + 1]
        start_inside = inside ^ bool(seg.count(b'"') & 1)
        seg_net, _ = _structure(seg, start_inside)
        net, inside, c = net - seg_net, start_inside, prev


# -- the images ---------------------------------------------------------------------------------------------

def _utc_time(v: Any) -> datetime | None:
    """A time in the one common form as an aware UTC datetime; None when pydantic must judge it."""
    if type(v) is not str or not _TIME.fullmatch(v):
        return None
    try:
        t = datetime.fromisoformat(v)
        return t if t.tzinfo is timezone.utc else t.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def _run_members(text: bytes, structs: Sequence[_Image], source: str, seen: int) -> None:
    """`_members` of a run whose structs are not encoded otherwise."""
    _members(text, _ENCODER.encode(structs).count(b":") if b"\\" not in text else -1, source, seen)


def _members(text: bytes, colons: int, source: str, seen: int) -> None:
    """Refuse what msgspec let through and the exact JSON rules do not: it drops an unknown key (ignored, as the
    exact loader ignores it, but the loader still refuses a duplicate key, an over-long integer or NaN inside
    it) and settles a key given twice by taking the last. Without escapes a string re-encodes to the same
    bytes, so the colons of the text are the `colons` of the structs re-encoded only when no member was
    dropped."""
    if b"\\" not in text and text.count(b":") == colons:
        return
    # Nested one level deeper here than in the document, so one level fewer allowed.
    try:
        parse_json("[" + text.decode("utf-8") + "]", source=source, max_depth=MAX_DEPTH - 1)
    except UserError as e:
        raise _Defer(f"{e} (in the images from images[{seen}] on)") from None


class _Builder:
    """Turns structs into LifecycleImages with the exact loader's checks, deferring on any breach. With
    `share_layers`, one (digest, size) pair per layer is held for every image holding it: the whole document's
    images are kept (`read_images`). `repository_groups` keeps one partition's at a time, so it does not pay
    for the sharing."""

    def __init__(self, source: str, share_layers: bool = True) -> None:
        self.source = source
        self.images: list[LifecycleImage] = []
        self.rules = DocumentRules(source)
        self.repositories: dict[str, str] = {}
        self.layers: dict[tuple[str, int], tuple[str, int]] | None = {} if share_layers else None

    def build(self, runs: Iterator[tuple[bytes, list[_Image]]]) -> list[LifecycleImage]:
        for text, structs in runs:
            seen = len(self.images)
            _run_members(text, structs, self.source, seen)
            self.images_of(enumerate(structs, seen))
        return self.images

    def images_of(self, pairs: Iterable[tuple[int, _Image]]) -> list[LifecycleImage]:
        """The images of (index in the document, struct) pairs; the index words a problem's JSON path."""
        for i, s in pairs:
            self._image(i, s)
        return self.images

    def _image(self, i: int, s: _Image) -> None:
        repository = _repository_of(s)
        pushed = _utc_time(s.pushed_at)
        raw_pulled, raw_archived = s.last_pulled_at, s.archived_at
        pulled = None if raw_pulled is None or raw_pulled is _UNSET else _utc_time(raw_pulled)
        archived = None if raw_archived is None or raw_archived is _UNSET else _utc_time(raw_archived)
        storage = s.storage_class
        if storage is _UNSET:
            storage = STANDARD
        elif storage != STANDARD and storage != ARCHIVE:
            storage = storage.lower()
        if (pushed is None or (pulled is None and raw_pulled is not None and raw_pulled is not _UNSET)
                or (archived is None and raw_archived is not None and raw_archived is not _UNSET)
                or (storage != STANDARD and storage != ARCHIVE)):
            im = self._exact(i, s)
        else:
            layers: tuple[tuple[str, int], ...] = ()
            if s.layers is not _UNSET:
                if self.layers is None:
                    layers = tuple(map(astuple, s.layers))
                else:  # one (digest, size) pair per layer, shared by every image that holds it
                    pairs = list(map(astuple, s.layers))
                    layers = tuple(map(self.layers.setdefault, pairs, pairs))
            im = new_image(self.repositories.setdefault(repository, repository), s.digest, tuple(s.tags),
                                  pushed, pulled, storage, archived, layers,
                                  () if s.manifests is _UNSET else tuple(s.manifests),
                                  None if s.subject is _UNSET else s.subject)
        self._check(i, im)
        self.images.append(im)

    def _exact(self, i: int, s: _Image) -> LifecycleImage:
        """This image through the exact loader's model (a time in another form pydantic accepts, say)."""
        doc = {name: getattr(s, name) for name in ("digest", "tags", "pushed_at", *_OPTIONAL)
               if getattr(s, name) is not _UNSET}
        if "layers" in doc:
            doc["layers"] = [{"digest": layer.digest, "size": layer.size} for layer in s.layers]  # type: ignore[union-attr]
        try:
            return image_of(_Model.model_validate(doc))
        except ValidationError as e:
            raise _Defer(problems(e, self.source, ("images", i))) from None
        except (ValueError, OverflowError) as e:
            raise _Defer(f"{self.source}: images[{i}]: {e}") from None

    def _check(self, i: int, im: LifecycleImage) -> None:
        """The exact loader's document rules; it words the message (after its own validation of the whole
        document, which may find an earlier problem), so any breach defers."""
        try:
            self.rules.check(i, im.repository, im.digest, im.tags, im.storage_class, im.archived_at)
        except UserError as e:
            raise _Defer(str(e)) from None
