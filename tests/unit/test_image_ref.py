"""The one image-reference parser (`records.image_ref`), and the two views of it: in-use (`analysis.in_use.
parse_image_ref`: ECR references only, valid ones only) and pulls (`analysis.pulls.parse_image`: where a pull
goes, today's dict shape)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ecrwise.analysis.in_use import parse_image_ref as in_use_ref
from ecrwise.analysis.pulls import parse_image
from ecrwise.records.image_ref import ImageRef, InvalidImageRef, parse_image_ref, split_image_ref

A = "123456789012"
DIG = "sha256:" + "a" * 64
REG = f"{A}.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize("text,registry,repository,tag,digest,account,region", [
    (f"{REG}/team/api:v1", REG, "team/api", "v1", None, A, "us-east-1"),
    (f"{REG}/api", REG, "api", "latest", None, A, "us-east-1"),
    (f"{REG}/api@{DIG}", REG, "api", None, DIG, A, "us-east-1"),
    (f"{REG}/api:v2@{DIG}", REG, "api", "v2", DIG, A, "us-east-1"),
    (f"{A}.dkr.ecr-fips.us-gov-west-1.amazonaws.com/x:1", f"{A}.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "x", "1",
     None, A, "us-gov-west-1"),
    (f"{A}.dkr.ecr.cn-north-1.amazonaws.com.cn/x/y:1", f"{A}.dkr.ecr.cn-north-1.amazonaws.com.cn", "x/y", "1", None,
     A, "cn-north-1"),
    # Dual-stack (IPv6) registry endpoint: neither parser before this one knew it.
    (f"{A}.dkr-ecr.eu-west-1.on.aws/app:3", f"{A}.dkr-ecr.eu-west-1.on.aws", "app", "3", None, A, "eu-west-1"),
    ("nginx", None, "nginx", "latest", None, None, None),
    ("library/nginx:1.25", None, "library/nginx", "1.25", None, None, None),
    ("public.ecr.aws/x/y:1", "public.ecr.aws", "x/y", "1", None, None, None),
    (f"ghcr.io/a/b@{DIG}", "ghcr.io", "a/b", None, DIG, None, None),
    ("localhost:5000/x:1", "localhost:5000", "x", "1", None, None, None),
    ("localhost/x", "localhost", "x", "latest", None, None, None),
    ("registry.example.com:5000/x/y:2", "registry.example.com:5000", "x/y", "2", None, None, None),
    (f"  {REG}/api:v1\n", REG, "api", "v1", None, A, "us-east-1"),
])
def test_parses_ecr_and_other_registries(text, registry, repository, tag, digest, account, region):
    ref = parse_image_ref(text)
    assert ref == ImageRef(registry, repository, tag, digest, account, region)
    assert ref.is_ecr is (account is not None)


@pytest.mark.parametrize("text,part", [
    (f"{REG}/MyRepo:1", "'MyRepo' is not a repository name"),  # ECR repository names are lowercase
    (f"{REG}/a//b", "is not a repository name"),
    (f"{REG}/a-:1", "is not a repository name"),
    (f"{REG}/api:v1+b", r"'v1\+b' is not a tag"),
    (f"{REG}/api:", "'' is not a tag"),
    (f"{REG}/api@sha256:abc", "is not a digest"),
    (f"{REG}/api@sha256:{'A' * 64}", "is not a digest"),  # ECS: lowercase hex, sha256 only
    ("Nginx", "is not a repository name"),
    ("", "is not a repository name"),
])
def test_rejects_what_no_registry_serves(text, part):
    with pytest.raises(InvalidImageRef, match=part):
        parse_image_ref(text)


# Where the two parsers this one replaced disagreed (found by a hypothesis run over ECR hosts × path text
# × digests, 20,000 examples): `in_use` was strict and stripped whitespace; `pulls` took anything after an
# ECR host as a repository and tag, kept surrounding whitespace in the name, and called an ECR image with a
# malformed digest or an empty tag "external". Now: in-use protects only valid references; pulls splits every
# reference the same way, and an ECR host always means ECR.
@pytest.mark.parametrize("text,in_use,pulls", [
    (f"{REG}/api ", ("api", "latest"), {"account": A, "region": "us-east-1", "repository": "api", "tag": "latest",
                                        "digest": None}),  # pulls kept "api " before
    (f"{REG}/Z", None, {"account": A, "region": "us-east-1", "repository": "Z", "tag": "latest", "digest": None}),
    (f"{REG}/api:v1+b", None, {"account": A, "region": "us-east-1", "repository": "api", "tag": "v1+b",
                               "digest": None}),
    (f"{REG}/api:", None, {"account": A, "region": "us-east-1", "repository": "api", "tag": "", "digest": None}),
    (f"{REG}/api@sha256:abc", None, {"account": A, "region": "us-east-1", "repository": "api", "tag": None,
                                     "digest": "sha256:abc"}),  # pulls said external before
    (f"{A}.dkr-ecr.eu-west-1.on.aws/app:3", ("app", "3"),
     {"account": A, "region": "eu-west-1", "repository": "app", "tag": "3", "digest": None}),  # both said external
])
def test_former_disagreements(text, in_use, pulls):
    ref = in_use_ref(text)
    assert (None if ref is None else (ref.repository, ref.tag)) == in_use
    assert parse_image(text) == pulls


_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4}){0,2}", fullmatch=True)
_path = st.lists(_component, min_size=1, max_size=3).map("/".join)
_tag = st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.none() | st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__)
_host = st.sampled_from([REG, f"{A}.dkr.ecr-fips.us-east-1.amazonaws.com", f"{A}.dkr.ecr.cn-north-1.amazonaws.com.cn",
                         f"{A}.dkr-ecr.us-west-2.on.aws", "public.ecr.aws", "ghcr.io", "localhost:5000", None])


@settings(max_examples=300)
@given(_host, _path, _tag, _digest)
def test_every_valid_reference_round_trips_and_all_views_agree(host, path, tag, digest):
    text = (f"{host}/" if host else "") + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    first = path.split("/")[0]
    if host is None and "/" in path and ("." in first or first == "localhost"):
        assert split_image_ref(text).registry == first  # "a.b/c" and "localhost/x" name a registry
        return
    ref = parse_image_ref(text)
    assert ref == split_image_ref(text)
    assert (ref.registry, ref.repository, ref.digest) == (host, path, digest)
    assert ref.tag == (tag if tag else (None if digest else "latest"))
    legacy = parse_image(text)
    assert legacy == {"account": ref.account, "region": ref.region,
                      "repository": path if ref.is_ecr else ref.name, "tag": ref.tag, "digest": digest}
    assert (in_use_ref(text) == ref) is ref.is_ecr
