"""The SQL facts (store/sql/*.sql) equal the Python computation on property-generated small estates, so a
wrong join or a double-counted shared layer fails here."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrwise.analysis.inventory import repository_facts
from ecrwise.cli.snapshot_data import repository_facts_of
from ecrwise.records.ecr import Image, ImageLayer, PullMetric, Repository
from ecrwise.pricing.book import load_price_book
from ecrwise.store import Store

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
REGIONS = ("us-east-1", "eu-west-1")
NAMES = ("app", "api", "base")
LAYERS = [(f"sha256:{i:064x}", 1000 * i) for i in range(6)]  # a small pool, so layers are shared; one of 0 bytes


@st.composite
def estates(draw):
    repos = []
    for region in REGIONS:
        for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3)):
            repos.append(Repository("111111111111", region, name, f"arn:{region}:{name}", f"uri/{name}", None,
                                    "MUTABLE", False, "AES256", draw(st.sampled_from([{}, {"team": "x"}])),
                                    draw(st.sampled_from([None, '{"rules": []}']))))
    images, layers, pulls = [], [], []
    # Images also in repositories the snapshot does not list (the facts ignore them, as the Python does).
    for n in range(draw(st.integers(0, 12))):
        region, name = draw(st.sampled_from(REGIONS)), draw(st.sampled_from(NAMES))
        refs = draw(st.lists(st.sampled_from(LAYERS), max_size=4))
        digest = f"sha256:{n:064x}"
        pushed = draw(st.none() | st.integers(0, 100).map(lambda d: T0 + timedelta(days=d)))
        pulled = draw(st.none() | st.integers(0, 100).map(lambda d: T0 + timedelta(days=d)))
        # Some are referrers of an earlier image, archived, or without a manifest body (issue 14's fields).
        subject = draw(st.none() | st.sampled_from([f"sha256:{k:064x}" for k in range(max(n, 1))]))
        images.append(Image("111111111111", region, name, digest, draw(st.sampled_from([[], ["v1"], ["a", "b"]])),
                            pushed, pulled, None, None, None, sum(s for _, s in refs),
                            storage_class=draw(st.sampled_from(["standard", "archive"])),
                            subject_digest=subject, manifest_missing=draw(st.booleans())))
        layers += [ImageLayer("111111111111", region, name, digest, d, s) for d, s in refs]
    for region, name in draw(st.lists(st.tuples(st.sampled_from(REGIONS), st.sampled_from(NAMES)), max_size=4)):
        pulls.append(PullMetric("111111111111", region, name, date(2026, 1, draw(st.integers(1, 28))),
                                draw(st.integers(0, 3))))
    return repos, images, layers, pulls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(estates())
def test_repository_facts_sql_equals_python(tmp_path_factory, estate):
    repos, images, layers, pulls = estate
    path = tmp_path_factory.mktemp("facts") / "s.duckdb"
    with Store(path) as s:
        sid = s.save_scan(T0, ["111111111111"], list(REGIONS), ["ecr"],
                          {Repository: repos, Image: images, ImageLayer: layers, PullMetric: pulls}, [], "t").id
        assert repository_facts_of(s, sid) == repository_facts(repos, images, layers, pulls)


def test_missing_tables_read_as_empty(tmp_path):
    """A scan that stored repositories but never created the pull table: facts still come, with no pulls."""
    repo = Repository("1", "us-east-1", "a", "arn", "uri", None, "MUTABLE", False, "AES256")
    with Store(tmp_path / "s.duckdb") as s:
        sid = s.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Repository: [repo]}, [], "t").id
        [f] = repository_facts_of(s, sid)
    assert (f.images, f.stored_bytes, f.pulls_30d, f.last_pull_day) == (0, 0, 0, None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(estates(), estates())
def test_layer_deltas_sql_equals_python(tmp_path_factory, before, after):
    from ecrwise.analysis.history import layer_deltas
    from ecrwise.cli.snapshot_data import layer_deltas_of

    path = tmp_path_factory.mktemp("deltas") / "s.duckdb"
    with Store(path) as s:
        ids = [s.save_scan(T0, ["111111111111"], list(REGIONS), ["ecr"], {Repository: e[0], ImageLayer: e[2]},
                           [], "t").id for e in (before, after)]
        assert layer_deltas_of(s, *ids) == layer_deltas(before[2], after[2])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(estates(), st.data())
def test_engine_images_sql_equals_python(tmp_path_factory, estate, data):
    """The engine's images from SQL (engine_image_rows.sql and engine_layer_rows.sql merged, what `lifecycle
    simulate` reads) equal those built from the records, image for image and layer for layer in order; indexes
    whose manifest is missing, archived images and children included."""
    from dataclasses import replace

    from ecrwise.cli.snapshot_data import engine_images_of
    from ecrwise.lifecycle.from_records import lifecycle_images

    repos, images, layers, pulls = estate
    images = [replace(im, is_index=data.draw(st.booleans()),
                      children=data.draw(st.sampled_from([[], [f"sha256:{1:064x}"], [f"sha256:{2:064x}"] * 2])),
                      archived_at=im.pushed_at if im.storage_class == "archive" else None) for im in images]
    # Layer references of repositories without an image, sorting before, between and after the real ones: the
    # merge passes over them.
    orphans = [ImageLayer("111111111111", REGIONS[0], name, "sha256:" + "e" * 64, "sha256:" + "f" * 64, 7)
               for name in ("", "m-orphan", "\uffff")]
    path = tmp_path_factory.mktemp("engine") / "s.duckdb"
    with Store(path) as s:
        sid = s.save_scan(T0, ["111111111111"], list(REGIONS), ["ecr"],
                          {Repository: repos, Image: images, ImageLayer: orphans + layers, PullMetric: pulls}, [],
                          "t").id
        # The images come repository after repository, each in stored order.
        by_repository = sorted(lifecycle_images(images, layers), key=lambda im: tuple(im.repository.split("/", 2)))
        assert engine_images_of(s, sid) == by_repository


def test_engine_images_from_a_store_without_the_newer_columns(tmp_path):
    """A store whose images table predates subject_digest / manifest_missing reads them as their defaults."""
    from ecrwise.cli.snapshot_data import engine_images_of

    im = Image("1", "us-east-1", "a", "sha256:" + "1" * 64, ["v1"], T0, None, None, None, None, 5)
    with Store(tmp_path / "s.duckdb") as s:
        sid = s.save_scan(T0, ["1"], ["us-east-1"], ["ecr"], {Image: [im]}, [], "t").id
        s.con.execute("ALTER TABLE images DROP COLUMN subject_digest")
        s.con.execute("ALTER TABLE images DROP COLUMN manifest_missing")
        [got] = engine_images_of(s, sid)
    assert (got.subject, got.children_unknown, got.layers, got.tags) == (None, False, (), ("v1",))


def _stored_and_loaded(s, sid):
    """The same snapshot as the commands read it (on demand, SQL facts) and as every record loaded."""
    from ecrwise.cli.snapshot_data import records_of
    from ecrwise.records import Records
    from ecrwise.store import StoredSnapshot

    return Records({}, sid, StoredSnapshot(s, sid)), records_of(s, sid)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(estates())
def test_layer_index_sql_equals_records(tmp_path_factory, estate):
    """The layer index the checks share, read from the store as rows, equals the one built from the records:
    each image's layers in stored order, a layer listed twice kept twice."""
    from ecrwise.analysis.checks import CheckSession, FactContext
    from ecrwise.analysis.facts import layer_index

    repos, images, layers, pulls = estate
    layers = layers + layers[:1]  # a manifest that lists a layer twice
    path = tmp_path_factory.mktemp("index") / "s.duckdb"
    with Store(path) as s:
        sid = s.save_scan(T0, ["111111111111"], list(REGIONS), ["ecr"],
                          {Repository: repos, Image: images, ImageLayer: layers, PullMetric: pulls}, [], "t").id
        got = [CheckSession(r, load_price_book(), {"now": T0}).fact_value(layer_index.fact)
               for r in _stored_and_loaded(s, sid)]
    assert got[0] == got[1]
    assert sum(len(p) for by_image in got[0].values() for p in by_image.values()) == len(layers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(estates())
def test_findings_from_the_store_equal_findings_from_records(tmp_path_factory, estate):
    """Every check's findings over a snapshot read on demand from the store (the inventory by SQL, the layer
    index from rows: what `findings` and `report` do) equal those over every record loaded."""
    from ecrwise.analysis.findings import collect

    repos, images, layers, pulls = estate
    path = tmp_path_factory.mktemp("findings") / "s.duckdb"
    with Store(path) as s:
        sid = s.save_scan(T0, ["111111111111"], list(REGIONS), ["ecr"],
                          {Repository: repos, Image: images, ImageLayer: layers, PullMetric: pulls}, [], "t").id
        stored, loaded = [collect(r, load_price_book(), {"now": T0 + timedelta(days=120)})
                          for r in _stored_and_loaded(s, sid)]
    assert [it.finding for it in stored.items] == [it.finding for it in loaded.items]
    assert stored.warnings == loaded.warnings
    assert stored.items or not repos  # every listed repository has at least its mutable-tags finding


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(estates(), st.data())
def test_image_pass_from_the_store_equals_the_pass_over_records(tmp_path_factory, estate, data):
    """The one pass over the images (`analysis.repository_images`) gives the same large images (a threshold
    low enough that the small generated images are large), new-layer bytes for replication and findings from
    the store's two flat queries as from the records; indexes and their children included."""
    from dataclasses import replace

    from ecrwise.analysis.findings import collect
    from ecrwise.records.registry import ReplicationDestination

    repos, images, layers, pulls = estate
    images = [replace(im, is_index=data.draw(st.booleans()),
                      children=data.draw(st.sampled_from([[], [f"sha256:{1:064x}"]]))) for im in images]
    rules = [ReplicationDestination("111111111111", REGIONS[0], 0, REGIONS[1], "111111111111", [])]
    path = tmp_path_factory.mktemp("pass") / "s.duckdb"
    options = {"now": T0 + timedelta(days=40), "storage.large_image_gib": 1000 / 2**30}
    with Store(path) as s:
        sid = s.save_scan(T0, ["111111111111"], list(REGIONS), ["ecr"],
                          {Repository: repos, Image: images, ImageLayer: layers, PullMetric: pulls,
                           ReplicationDestination: rules}, [], "t").id
        stored, loaded = [collect(r, load_price_book(), options) for r in _stored_and_loaded(s, sid)]
    assert [it.finding for it in stored.items] == [it.finding for it in loaded.items]
    checks = {it.finding.check for it in stored.items}
    if any(not im.is_index and im.size_bytes > 1000 and (im.region, im.repository) in
           {(r.region, r.name) for r in repos} for im in images):
        assert "ecr.large-image" in checks
