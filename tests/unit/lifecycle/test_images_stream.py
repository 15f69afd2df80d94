"""The streaming images reader gives the exact loader's images or defers to it: never a different result.

Documents are read in tiny runs (a few hundred bytes) so every one is cut many times, at image boundaries and,
through the fallback, by counting brackets.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from ecrwise.errors import UserError
from ecrwise.inputs import load_document
from ecrwise.lifecycle.images import MAX_IMAGES_BYTES, parse_images_document
from ecrwise.lifecycle import images_stream
from ecrwise.lifecycle.images_stream import (Deferred, _utc_time, fold_document, fold_repositories,
                                             load_images_document, read_images, repository_groups)


def _exact(path):
    """The exact loader alone: its images, or its message."""
    try:
        return parse_images_document(load_document(path, what="images document", source=path.name,
                                                   max_bytes=MAX_IMAGES_BYTES), source=path.name)
    except UserError as e:
        return str(e)


def _both(path, run_bytes=200):
    return read_images(path, MAX_IMAGES_BYTES, run_bytes), _exact(path)


def _grouped(images):
    """Images by repository, in document order within each: what repository_groups must give."""
    out = {}
    for im in images:
        out.setdefault(im.repository, []).append(im)
    return out


def _groups_or_deferred(path, run_bytes, partition_bytes):
    """repository_groups' repositories (each yielded once), or its Deferred."""
    got = {}
    try:
        for name, imgs in repository_groups(path, run_bytes=run_bytes, partition_bytes=partition_bytes):
            assert name not in got and imgs and all(im.repository == name for im in imgs)
            got[name] = imgs
    except Deferred as e:
        return e
    return got


def _folded_or_deferred(path, run_bytes, partition_bytes):
    """fold_repositories' repositories as the last fold saw them, and how many folds it ran; or its Deferred."""
    calls = []

    def fold(groups):
        calls.append(1)
        got = {}
        for name, imgs in groups:
            assert name not in got and imgs and all(im.repository == name for im in imgs)
            got[name] = imgs
        return got

    try:
        return fold_repositories(path, fold, run_bytes=run_bytes, partition_bytes=partition_bytes), len(calls)
    except Deferred as e:
        return e


def _together(images):
    """Whether each repository's images lie together (in one stretch) in document order."""
    names = [im.repository for i, im in enumerate(images) if i == 0 or images[i - 1].repository != im.repository]
    return len(names) == len(set(names))


# The exact loader's messages for the rules that span images (DocumentRules).
_RULE = re.compile(r"appears twice in repository|a tag names one image|required when storage_class is archive")


def _repositories_together(path):
    """Whether the document's images (if it is one) list each repository's images in one stretch."""
    try:
        names = [im.get("repository", "") for im in json.loads(path.read_text(encoding="utf-8-sig"))["images"]]
    except Exception:
        return False
    runs = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    return len(runs) == len(set(runs))


def _check_groups(path, run_bytes, exact, must_stream=False):
    # 1 byte: as many partitions as the file has bytes (most repositories alone in one); 10**9: one
    # partition held in memory, no temporary file.
    for partition_bytes in (1, 300, 10**9):
        # Whether the reading meets the images in document order: one partition, or (the fold only) the one
        # pass over repositories that lie together.
        one_partition = partition_bytes == 10**9
        for got, in_order in ((_groups_or_deferred(path, run_bytes, partition_bytes), one_partition),
                              (_folded_or_deferred(path, run_bytes, partition_bytes),
                               one_partition or _repositories_together(path))):
            if isinstance(got, Deferred):
                assert not must_stream
                # Worded as a UserError for the file; a rule breach met in document order is the exact
                # loader's own message (partitions meet the rules in partition order).
                assert got.why.startswith(f"{path.name}: ")
                if isinstance(exact, str) and _RULE.search(exact) and "escaped character" not in got.why:
                    assert _RULE.search(got.why), got.why
                    if in_order:
                        assert got.why == exact
                continue
            assert not isinstance(exact, str), f"streamed what the exact loader refuses: {exact}"
            if isinstance(got, tuple):
                got, folds = got
                # One pass when the repositories lie together; a second, partitioned, only when they do not.
                assert folds == (1 if _together(exact) else 2)
            assert got == _grouped(exact)


_times = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1),
                 timezones=st.sampled_from([timezone.utc])).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.sampled_from(["2025-01-01T00:00:00+05:30", "2025-01-01T00:00:00.5-08:00", "2025-01-01 00:00:00Z",
                     "2025-01-01T00:00:00.1234567Z", "2025-01-01T00:00:00z", 1735689600]))
_digest = st.text("0123456789abcdef:sha", min_size=1, max_size=12)
_layer = st.fixed_dictionaries({"digest": _digest, "size": st.integers(0, 2**40)})
_image = st.fixed_dictionaries(
    {"digest": _digest, "tags": st.lists(st.text("abcv0123.-", min_size=1, max_size=6), max_size=2, unique=True),
     "pushed_at": _times},
    optional={"repository": st.sampled_from(["web", "api", "team/svc", ""]),
              "last_pulled_at": st.one_of(st.none(), _times),
              "storage_class": st.sampled_from(["standard", "STANDARD", "archive"]),
              "archived_at": st.one_of(st.none(), _times),
              "layers": st.lists(_layer, max_size=4),
              "manifests": st.lists(_digest, max_size=2),
              "subject": st.one_of(st.none(), _digest),
              "extra": st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))})
_layout = st.sampled_from([{}, {"indent": 2}, {"separators": (",", ":")}, {"indent": "\t"}])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(images=st.lists(_image, max_size=12), layout=_layout, run=st.sampled_from([64, 200, 1000]))
def test_streamed_equals_exact_on_generated_documents(tmp_path, images, layout, run):
    p = tmp_path / "images.json"
    p.write_text(json.dumps({"images": images}, **layout))
    fast, exact = _both(p, run)
    assert fast is None or fast == exact
    _check_groups(p, run, exact, must_stream=fast is not None)
    # Plain valid documents (no unknown key, times in the common form) take the streaming path.
    plain = all(set(im) <= {"digest", "tags", "pushed_at", "repository", "layers", "manifests"}
                and isinstance(im["pushed_at"], str) and im["pushed_at"].endswith("Z") and "T" in im["pushed_at"]
                and len(im["pushed_at"].split(".")[-1]) <= 7 for im in images)
    if plain and not isinstance(exact, str):
        assert fast is not None


GOOD = '{"digest": "sha256:a", "tags": ["v1"], "pushed_at": "2025-01-01T00:00:00Z", "layers": [{"digest": "l1", "size": 1}]}'


STREAMED = [
    '{"images": [' + ",".join([GOOD.replace("sha256:a", f"sha256:{i}").replace("v1", f"v{i}") for i in range(30)]) + "]}",
    '\ufeff{"images": [' + GOOD + "]}",
    '{"images": []}',
    ' {\n "images" :\n [\n' + GOOD + '\n]\n}\n',
]


@pytest.mark.parametrize("text", STREAMED)
def test_plain_documents_are_streamed(tmp_path, text):
    p = tmp_path / "images.json"
    p.write_text(text)
    for run in (16, 64, 4096):
        fast, exact = _both(p, run)
        assert fast is not None and fast == exact
        _check_groups(p, run, exact, must_stream=True)


@pytest.mark.parametrize("text", STREAMED + [
    # What the reader must not settle itself: each defers, and the exact loader's message is what the user sees.
    '{"images": [' + GOOD.replace('"tags"', '"digest": "sha256:z", "tags"') + "]}",  # a key twice
    '{"images": [' + GOOD.replace('"size": 1', '"size": 1, "size": 2') + "]}",
    '{"images": [' + GOOD.replace('"tags"', '"x": NaN, "tags"') + "]}",
    '{"images": [' + GOOD.replace('"tags"', '"x": ' + "9" * 50 + ', "tags"') + "]}",
    '{"images": [' + GOOD.replace('"tags"', '"x": 1e999, "tags"') + "]}",
    '{"images": [' + GOOD.replace('"tags"', '"x": {"a": 1, "a": 2}, "tags"') + "]}",
    '{"images": [' + GOOD.replace('"tags"', '"x": ' + "[" * 70 + "]" * 70 + ', "tags"') + "]}",
    '{"images": [' + GOOD.replace('"v1"', '"v\\u0031"') + "]}",  # an escape: the exact loader reads it
    '{"images": [' + GOOD + "," + GOOD + "]}",  # the digest twice in a repository
    '{"images": [' + GOOD + "," + GOOD.replace("sha256:a", "sha256:b") + "]}",  # a tag on two images
    '{"images": [' + GOOD + ",]}",
    '{"images": [' + GOOD + "], \"more\": 1}",
    '{"more": 1, "images": [' + GOOD + "]}",
    '{"images": [' + GOOD + "]} trailing",
    '{"images": [' + GOOD.replace('"size": 1', '"size": -1') + "]}",
    '{"images": [' + GOOD.replace('"sha256:a"', '""') + "]}",
    '{"images": [' + GOOD.replace('"v1"', '""') + "]}",
    '{"images": [' + GOOD.replace('"2025-01-01T00:00:00Z"', '"2025-01-01T00:00:00"') + "]}",
    '{"images": [' + GOOD.replace('"2025-01-01T00:00:00Z"', '"9999-12-31T23:00:00-05:00"') + "]}",
    '{"images": [' + GOOD.replace('"tags"', '"storage_class": "ARCHIVE", "tags"') + "]}",
    '{"images": [1, 2]}',
])
def test_edge_documents_give_the_exact_result(tmp_path, text):
    p = tmp_path / "images.json"
    p.write_text(text)
    for run in (16, 64, 4096):
        fast, exact = _both(p, run)
        assert fast is None or fast == exact
        _check_groups(p, run, exact, must_stream=fast is not None)
    try:
        assert load_images_document(p) == exact
    except UserError as e:
        assert str(e) == exact


def test_bad_utf8_inside_an_unknown_key_defers(tmp_path):
    # msgspec skips an unknown key's value without checking its UTF-8; the exact loader refuses the file.
    p = tmp_path / "images.json"
    p.write_bytes(b'{"images": [' + GOOD.encode().replace(b'"tags"', b'"x": "\xff", "tags"') + b"]}")
    assert read_images(p, MAX_IMAGES_BYTES, 64) is None
    with pytest.raises(UserError, match="not UTF-8"):
        load_images_document(p)


def test_a_nested_object_opening_like_an_image_is_not_a_cut(tmp_path):
    # Every image opens with "digest", and so does every layer: a cut there is refused by the decode, and the
    # bracket count finds the image boundary instead.
    p = tmp_path / "images.json"
    images = [{"digest": f"d{i}", "tags": [], "pushed_at": "2025-01-01T00:00:00Z",
               "layers": [{"digest": f"l{i}-{j}", "size": j} for j in range(5)]} for i in range(40)]
    p.write_text(json.dumps({"images": images}))
    fast, exact = _both(p, 300)
    assert fast is not None and fast == exact and len(fast) == 40


@pytest.mark.parametrize("text", ["2025-01-01T00:00:00Z", "2025-07-26T20:25:15.003384Z", "2025-01-01T00:00:00.5Z",
                                  "2025-01-01T00:00:00+05:30", "2025-01-01T00:00:00-00:00", "0001-01-01T00:00:00Z",
                                  "2026-01-01T00:00:00+23:59", "2026-02-29T00:00:00Z", "2026-01-01T24:00:00Z",
                                  "2026-01-01T23:59:60Z", "2026-01-01T00:00:00+24:00"])
def test_common_time_form_reads_as_pydantic_reads_it(text):
    ours = _utc_time(text)
    try:
        theirs = TypeAdapter(datetime).validate_python(text).astimezone(timezone.utc)
    except ValueError:
        theirs = None
    # Where ours is None pydantic judges the image; where ours is a time, it must be pydantic's.
    assert ours is None or ours == theirs
    if theirs is not None:
        assert ours == theirs


def test_a_document_larger_than_the_exact_loader_reads_is_streamed_and_its_problem_worded(tmp_path, monkeypatch):
    """Past MAX_IMAGES_BYTES (2 GiB; here 10 bytes) the exact loader refuses the file unread, so only the stream
    reads it: a good document gives the same repositories, a bad one the first problem the stream met, worded
    as the exact loader words it, with a line saying why there is no fuller account."""
    good = [json.loads(GOOD.replace("sha256:a", f"sha256:{i}").replace("v1", f"v{i}")) | {"repository": r}
            for i, r in enumerate("aabbbc")]
    p = tmp_path / "images.json"
    p.write_text(json.dumps({"images": good}))
    exact = _grouped(_exact(p))
    monkeypatch.setattr(images_stream, "MAX_IMAGES_BYTES", 10)
    assert fold_document(p, dict) == exact
    for bad, expected in [
        (good[:4] + [good[3]] + good[4:], "images.json: images[4].digest: sha256:3 appears twice in repository "
                                          "'b' (first at images[3])"),
        (good[:2] + [{**good[2], "tags": 7}] + good[3:], "images.json: Expected `array`, got `int` - at "
                                                         "`images[2].tags`"),
        (good[:5] + [{**good[5], "pushed_at": "yesterday"}], "images.json: images[5].pushed_at: invalid datetime"),
    ]:
        p.write_text(json.dumps({"images": bad}))
        monkeypatch.setattr(images_stream, "MAX_IMAGES_BYTES", 10**9)
        exact_message = _exact(p)
        monkeypatch.setattr(images_stream, "MAX_IMAGES_BYTES", 10)
        with pytest.raises(UserError) as ei:
            fold_document(p, dict)
        first, note = str(ei.value).split("\n")
        assert first.startswith(expected), first
        assert "larger than 0 MiB, so only the streaming reader reads it" in note
        if "appears twice" in expected:
            assert first == exact_message  # the exact loader's own words
