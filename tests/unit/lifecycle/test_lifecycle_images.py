"""The offline images document: what loads, and what each bad input says."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ecrwise.errors import UserError
from ecrwise.lifecycle.images import image_to_document
from ecrwise.lifecycle.images_stream import load_images_document


def _write(tmp_path, doc, name="images.json"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _image(**kw):
    base = {"digest": "sha256:a", "tags": ["v1"], "pushed_at": "2025-01-01T00:00:00Z"}
    base.update(kw)
    return base


def test_minimal_document_uses_defaults(tmp_path):
    (im,) = load_images_document(_write(tmp_path, {"images": [_image()]}))
    assert im.repository == "" and im.tags == ("v1",) and im.storage_class == "standard"
    assert im.pushed_at == datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert im.last_pulled_at is None and im.archived_at is None and im.layers == () and im.manifests == ()


def test_full_document_round_trips(tmp_path):
    doc = {"images": [_image(repository="web", last_pulled_at="2025-02-01T10:00:00+02:00", storage_class="ARCHIVE",
                             archived_at="2025-03-01T00:00:00Z",
                             layers=[{"digest": "sha256:l1", "size": 10}, {"digest": "sha256:l2", "size": 20}],
                             manifests=["sha256:c1"])]}
    (im,) = load_images_document(_write(tmp_path, doc))
    # Offsets are normalised to UTC; DescribeImages' upper-case storage classes are accepted.
    assert im.last_pulled_at == datetime(2025, 2, 1, 8, 0, tzinfo=timezone.utc)
    assert im.storage_class == "archive"
    assert im.layers == (("sha256:l1", 10), ("sha256:l2", 20)) and im.naive_bytes == 30
    again = image_to_document(im)
    assert load_images_document(_write(tmp_path, {"images": [again]}, "again.json")) == [im]


def test_epoch_seconds_are_accepted(tmp_path):
    (im,) = load_images_document(_write(tmp_path, {"images": [_image(pushed_at=1735689600)]}))
    assert im.pushed_at == datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("images,expected", [
    ([_image(), _image(digest="sha256:b"), _image(digest="sha256:c"), _image(digest="sha256:d", pushed_at="yesterday")],
     "images.json: images[3].pushed_at: invalid datetime"),
    ([_image(pushed_at="2025-01-01T00:00:00")], "images.json: images[0].pushed_at: "),
    ([{"tags": [], "pushed_at": "2025-01-01T00:00:00Z"}], "images.json: images[0].digest: Field required"),
    ([{"digest": "x", "pushed_at": "2025-01-01T00:00:00Z"}], "images.json: images[0].tags: Field required"),
    ([_image(tags="v1")], "images.json: images[0].tags: "),
    ([_image(storage_class="glacier")], "images.json: images[0].storage_class: "),
    ([_image(layers=[{"digest": "l", "size": -1}])], "images.json: images[0].layers[0].size: "),
    ([_image(layers=[{"digest": "l", "size": "12"}])], "images.json: images[0].layers[0].size: "),
    ([_image(tags=[""])], "images.json: images[0].tags: "),
    ([_image(), _image()], "images.json: images[1].digest: sha256:a appears twice"),
    ([_image(), _image(digest="sha256:b")], "images.json: images[1].tags[0]: tag 'v1' is also on images[0]"),
    ([_image(storage_class="archive")], "images.json: images[0].archived_at: required when storage_class is archive"),
])
def test_bad_images_name_the_file_and_json_path(tmp_path, images, expected):
    with pytest.raises(UserError) as ei:
        load_images_document(_write(tmp_path, {"images": images}))
    assert expected in str(ei.value)


def test_naive_datetime_message_says_why(tmp_path):
    with pytest.raises(UserError) as ei:
        load_images_document(_write(tmp_path, {"images": [_image(pushed_at="2025-01-01T00:00:00")]}))
    assert "no timezone" in str(ei.value)


def test_same_digest_in_two_repositories_is_fine(tmp_path):
    imgs = load_images_document(_write(tmp_path, {"images": [_image(repository="a"), _image(repository="b")]}))
    assert [i.repository for i in imgs] == ["a", "b"]


def test_not_json_and_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"images.json: not valid JSON: line 1 column"):
        load_images_document(_write(tmp_path, "{images"))
    with pytest.raises(UserError, match="cannot read"):
        load_images_document(tmp_path / "missing.json")
    with pytest.raises(UserError, match=r"images.json: images: Field required"):
        load_images_document(_write(tmp_path, {"items": []}))


def test_an_images_document_may_be_larger_than_other_files(tmp_path):
    """The images document grows with the registry: past the 32 MiB every other file is held to, it loads (up to
    MAX_IMAGES_BYTES), and a layer with a key the format does not have is still refused."""
    from ecrwise.inputs import MAX_BYTES
    from ecrwise.lifecycle.images import MAX_IMAGES_BYTES

    assert MAX_IMAGES_BYTES > MAX_BYTES
    big = {"images": [_image(layers=[{"digest": "sha256:l", "size": 1}])], "exported_by": "x" * (MAX_BYTES + 1)}
    (im,) = load_images_document(_write(tmp_path, big))
    assert im.layers == (("sha256:l", 1),)
    with pytest.raises(UserError) as ei:
        load_images_document(_write(tmp_path, {"images": [_image(layers=[{"digest": "l", "size": 1, "x": 2}])]}))
    assert "images[0].layers[0].x" in str(ei.value)
