"""Hand-built snapshots for the storage-check and findings tests."""
import hashlib
from datetime import datetime, timedelta, timezone

from ecrwise.analysis.checks import Records, discover
from ecrwise.pricing.book import load_price_book
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository

A, R = "111111111111", "us-east-1"
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
GIB = 2**30
BOOK = load_price_book()
OPTS = {"now": NOW}


def dg(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def repo(name, *, policy=None, tags=None, created=NOW - timedelta(days=400), region=R):
    return Repository(A, region, name, f"arn:aws:ecr:{region}:{A}:repository/{name}",
                      f"{A}.dkr.ecr.{region}.amazonaws.com/{name}", created, "MUTABLE", False, "AES256", tags or {},
                      policy)


def image(repo_name, seed, tags, layers, *, days_ago=10, pulled_days_ago=None, children=(), region=R):
    d = dg(f"{repo_name}:{seed}")
    pulled = None if pulled_days_ago is None else NOW - timedelta(days=pulled_days_ago)
    im = Image(A, region, repo_name, d, list(tags), NOW - timedelta(days=days_ago), pulled, 1, "m", None,
               sum(s for _, s in layers), children=list(children), is_index=bool(children))
    return im, [ImageLayer(A, region, repo_name, d, ld, s) for ld, s in layers]


def records(repos, images, pulls=(), extra=None):
    by = {Repository: list(repos), Image: [i for i, _ in images], ImageLayer: [l for _, ls in images for l in ls],
          PullMetric: list(pulls)}
    by.update(extra or {})
    return Records(by)


def run(check_id, recs, **options):
    return list(discover()[check_id].run(recs, BOOK, {**OPTS, **options}))


BASE = (dg("layer:base"), 3 * GIB)
L = {k: (dg(f"layer:{k}"), size) for k, size in (("a1", GIB), ("a2", 2 * GIB), ("a3", GIB), ("a4", GIB))}


def app_images(name="app"):
    """Three untagged leftovers and one release; every image shares the 3 GiB base layer."""
    return [image(name, "u1", [], [BASE, L["a1"]], days_ago=30),
            image(name, "u2", [], [BASE, L["a2"]], days_ago=20),
            image(name, "u3", [], [BASE, L["a3"]], days_ago=15),
            image(name, "v1", ["v1.0.0"], [BASE, L["a4"]], days_ago=5)]


def old_repo_images(name="old"):
    return [image(name, "v1", ["v1"], [BASE, L["a1"]], days_ago=200)]
