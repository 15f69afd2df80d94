import json

from ecrwise.aws.manifests import parse_manifest


def test_docker_v2_layers_in_order():
    text = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"digest": "sha256:c", "size": 7000},
                       "layers": [{"digest": "sha256:a", "size": 10}, {"digest": "sha256:b", "size": 20}]})
    m = parse_manifest(text)
    assert m.layers == [("sha256:a", 10), ("sha256:b", 20)]
    assert not m.is_index and m.sized
    assert m.media_type == "application/vnd.docker.distribution.manifest.v2+json"


def test_oci_manifest_without_media_type_field_uses_given_type():
    text = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:c", "size": 1},
                       "layers": [{"digest": "sha256:a", "size": 5}]})
    m = parse_manifest(text, "application/vnd.oci.image.manifest.v1+json")
    assert m.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert m.layers == [("sha256:a", 5)]


def test_index_has_children_and_no_layers():
    text = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [{"digest": "sha256:x", "size": 500}, {"digest": "sha256:y", "size": 500}]})
    m = parse_manifest(text)
    assert m.is_index and m.children == ["sha256:x", "sha256:y"] and m.layers == []


def test_docker_manifest_list_is_an_index():
    text = json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                       "manifests": [{"digest": "sha256:x", "size": 1}]})
    assert parse_manifest(text).is_index


def test_schema1_and_garbage_are_unsized():
    s1 = json.dumps({"schemaVersion": 1, "fsLayers": [{"blobSum": "sha256:a"}]})
    assert not parse_manifest(s1).sized
    assert not parse_manifest("not json").sized
    assert not parse_manifest("[1,2]").sized


def test_referrer_subject_and_artifact_type_are_read():
    import json
    text = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "artifactType": "application/vnd.cncf.notary.signature",
                       "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": "sha256:e"},
                       "layers": [{"mediaType": "application/jose+json", "size": 700, "digest": "sha256:s"}],
                       "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 9,
                                   "digest": "sha256:subj"}})
    p = parse_manifest(text)
    assert p.subject == "sha256:subj" and p.artifact_type == "application/vnd.cncf.notary.signature"
    assert p.layers == [("sha256:s", 700)] and p.sized and p.present


def test_missing_index_body_is_not_a_parsed_image():
    p = parse_manifest("", "application/vnd.oci.image.index.v1+json")
    assert not p.present and not p.is_index and not p.sized and p.layers == [] and p.children == []
