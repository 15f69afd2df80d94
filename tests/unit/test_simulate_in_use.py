"""`simulate` with images in use: the hits of the policy as given, and the policy as `lifecycle plan` rolls it
out (protection rule first, images in use tagged), which must never act on an image in use. Pure."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import parse_policy
from ecrwise.lifecycle.simulate import simulate

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
KEEP_1 = parse_policy('{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan",'
                      '"countNumber":1},"action":{"type":"expire"}}]}')


def _image(n: int, tags: tuple[str, ...] = ()) -> LifecycleImage:
    return LifecycleImage(digest=f"sha256:{n:064x}", tags=tags, pushed_at=AT - timedelta(days=100 - n),
                          repository="r", layers=((f"sha256:l{n}", 1 << 20),))


def test_hits_name_their_reasons_and_protection_keeps_them():
    images = [_image(1, ("v1",)), _image(2), _image(3, ("v3",))]
    used = {"r": {images[0].digest: ["lambda:fn:1 (alias live)"], images[1].digest: ["eks:prod/ns/pod/p"]}}
    bare = simulate({"r": KEEP_1}, images, AT, 0.1, 0.01, in_use=used).items[0]
    assert [(h.image.digest, h.action, h.reasons) for h in bare.in_use_hits] == [
        (images[0].digest, "expire", ("lambda:fn:1 (alias live)",)), (images[1].digest, "expire", ("eks:prod/ns/pod/p",))]
    assert bare.to_dict()["in_use"] == {"images": 2, "protected": False, "acted_on_count": 2,
                                        "acted_on": [h.to_dict() for h in bare.in_use_hits]}
    assert bare.unprotected is None and "without_protection" not in bare.to_dict()

    res = simulate({"r": KEEP_1}, images, AT, 0.1, 0.01, in_use=used, protect_in_use=True)
    kept = res.items[0]
    assert kept.evaluation.expire == () and len(kept.in_use_hits) == 2
    d = kept.to_dict()
    assert d["without_protection"]["expire_count"] == 2 and d["without_protection"]["freed_bytes"] == 2 << 20
    assert d["expire_count"] == 0 and d["monthly_savings_usd"] == 0
    assert res.totals()["without_protection"]["expire_count"] == 2 and res.totals()["in_use_acted_on"] == 2
    assert any("protection keeps them" in w for w in res.warnings)


def test_without_in_use_the_output_is_unchanged():
    images = [_image(1), _image(2)]
    plain = simulate({"r": KEEP_1}, images, AT, 0.1, 0.01).to_dict()
    assert "in_use" not in plain["items"][0] and "in_use_images" not in plain["totals"]
    empty = simulate({"r": KEEP_1}, images, AT, 0.1, 0.01, in_use={}).to_dict()
    assert empty["items"][0]["in_use"]["acted_on"] == [] and empty["totals"]["in_use_acted_on"] == 0
    assert {k: v for k, v in empty["items"][0].items() if k != "in_use"} == plain["items"][0]


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 12), count=st.integers(1, 5), data=st.data())
def test_protection_never_acts_on_an_image_in_use(n, count, data):
    images = [_image(i, tuple(data.draw(st.sets(st.sampled_from(["v1", "v2", "latest", "rc"]), max_size=2))))
              for i in range(n)]
    used_idx = data.draw(st.sets(st.integers(0, n - 1), min_size=1))
    used = {"r": {images[i].digest: ["x"] for i in used_idx}}
    pol = parse_policy('{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["v"],'
                       f'"countType":"imageCountMoreThan","countNumber":{count}}},"action":{{"type":"expire"}}}},'
                       '{"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan",'
                       f'"countNumber":{count}}},"action":{{"type":"expire"}}}}]}}')
    r = simulate({"r": pol}, images, AT, 0.1, 0.01, in_use=used, protect_in_use=True).items[0]
    acted = {im.digest for im, _ in (*r.evaluation.expire, *r.evaluation.transition)}
    assert not acted & set(used["r"])
    bare = simulate({"r": pol}, images, AT, 0.1, 0.01).items[0].evaluation
    assert {h.image.digest for h in r.in_use_hits} == {im.digest for im, _ in bare.expire} & set(used["r"])
