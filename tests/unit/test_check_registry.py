"""The check registry: every check declares what it reads, its options validate, facts are computed once per
session, families are discovered, and a finding built through the context carries its check's metadata."""
from __future__ import annotations

import dataclasses
import math
import pkgutil

import pytest
from storage_helpers import BOOK, NOW, app_images, image, old_repo_images, records, repo
from test_pulls import NOW as PULLS_NOW
from test_pulls import crash_loop_snapshot

import ecrwise.analysis as analysis_pkg
from ecrwise.analysis import facts as facts_mod
from ecrwise.analysis.checks import (FACTS, CheckOptions, CheckSession, NoOptions, check, discover, option,
                                     option_specs, validate_options)
from ecrwise.analysis.facts import in_use
from ecrwise.errors import UserError
from ecrwise.records.ecs import EcsTask


def storage_snapshot():
    return records([repo("app"), repo("old"), repo("kept", policy='{"rules": []}')],
                   app_images("app") + old_repo_images("old") + [image("kept", "v1", ["v1"], [("sha256:k", 10)])])


@pytest.mark.parametrize("snapshot, now", [(storage_snapshot, NOW), (crash_loop_snapshot, PULLS_NOW)])
def test_every_check_reads_only_what_it_declares(snapshot, now):
    session = CheckSession(snapshot(), BOOK, {"now": now})
    for c in discover().values():
        session.run(c)
    assert session.undeclared() == []
    assert session.reads, "the proxy logged nothing: the test would pass whatever the checks read"


def test_an_undeclared_read_or_fact_is_reported():
    honest = discover()["ecr.large-image"]
    sneaky = dataclasses.replace(honest, id="test.sneaky",
                                 fn=lambda ctx: [] if ctx.records.of(EcsTask) or in_use(ctx) else [])
    session = CheckSession(storage_snapshot(), BOOK, {"now": NOW})
    session.run(sneaky)
    assert session.undeclared() == ["check test.sneaky reads ecs_tasks without declaring it",
                                    "check test.sneaky uses fact in_use without declaring it"]


def test_a_check_s_reads_include_its_facts_tables():
    c = discover()["ecs.circuit-breaker-off"]
    assert set(c.own_reads) == {"ecs_services"} and c.facts == ("pulls",)
    assert set(FACTS["pulls"].tables) <= set(c.reads) and "ecs_service_events" in c.reads


def test_facts_are_computed_once_per_session(monkeypatch):
    calls = []
    real = facts_mod.analyse_pulls

    def counting(records, book, **kw):
        calls.append((kw["crash_loop_threshold"], kw["now"]))
        return real(records, book, **kw)

    monkeypatch.setattr(facts_mod, "analyse_pulls", counting)
    session = CheckSession(crash_loop_snapshot(), BOOK, {"now": PULLS_NOW})
    for c in discover().values():
        session.run(c)
    # The ECS checks share one run at the snapshot's time; the network audit one with `now` inferred.
    assert sorted(calls, key=str) == sorted({(12.0, PULLS_NOW), (12.0, None)}, key=str)


def test_families_are_discovered_from_the_module_names():
    modules = {m.name.removesuffix("_checks") for m in pkgutil.iter_modules(analysis_pkg.__path__)
               if m.name.endswith("_checks")}
    assert {c.family for c in discover().values()} == modules >= {"storage", "lifecycle", "ecs", "network"}


def test_every_check_describes_itself():
    for c in discover().values():
        assert c.title and c.docs.startswith("docs/") and "#" in c.docs and c.recommendation and c.risk, c.id
        assert issubclass(c.options, CheckOptions)


def test_a_finding_built_through_the_context_carries_its_check():
    c = discover()["ecr.no-lifecycle-policy"]
    ctx = CheckSession(storage_snapshot(), BOOK, {"now": NOW}).context(c)
    r = repo("x")
    f = ctx.finding(r, resource=r.arn, message="m")
    assert (f.check, f.severity, f.recommendation, f.account, f.region) == (c.id, "medium", c.recommendation,
                                                                          r.account, r.region)
    assert ctx.finding(r, resource=r.arn, message="m", severity="low").severity == "low"
    with pytest.raises(ValueError):
        ctx.finding(r, resource=r.arn, message="m", severity="urgent")


# -- options -----------------------------------------------------------------------------------------------

def test_options_default_once_and_validate():
    specs = option_specs()
    assert specs["storage.redundant_days"].default == 90 and specs["storage.redundant_days"].flag == "--redundant-days"
    assert specs["ecs.crash_loop_threshold"].checks == ("ecs.agent-pull-behavior", "ecs.circuit-breaker-off",
                                                        "ecs.crash-loop")
    assert validate_options({"storage.redundant_days": "30", "storage.large_image_gib": "2.5"}, "x") == {
        "storage.redundant_days": 30, "storage.large_image_gib": 2.5}


@pytest.mark.parametrize("key, value", [
    ("storage.large_image_gib", 1e308), ("storage.large_image_gib", math.inf), ("storage.large_image_gib", "nan"),
    ("storage.large_image_gib", 0), ("storage.redundant_days", 0), ("storage.redundant_days", "soon"),
    ("storage.lifecycle_template", "nope"), ("storage.cost_tags", []), ("ecs.crash_loop_threshold", -1),
    ("network.spike_window", 1)])
def test_a_bad_option_value_is_a_user_error_naming_it(key, value):
    with pytest.raises(UserError, match=f"^src: {key}: "):
        validate_options({key: value}, "src")


def test_an_unknown_option_is_a_user_error():
    with pytest.raises(UserError, match="storage.redundnt_days: no check has this option"):
        CheckSession(storage_snapshot(), BOOK, {"now": NOW, "storage.redundnt_days": 3})


def test_a_session_resolves_each_check_s_options():
    session = CheckSession(storage_snapshot(), BOOK, {"now": NOW, "storage.redundant_days": 7})
    reg = discover()
    assert session.context(reg["ecr.redundant-repository"]).options.redundant_days == 7
    assert session.context(reg["ecr.large-image"]).options.large_image_gib == 1.0
    assert isinstance(session.context(reg["ecs.single-replica"]).options, NoOptions)


def test_two_checks_of_a_family_cannot_declare_one_option_differently():
    class A(CheckOptions):
        redundant_days: int = option(30, "another default")

    def fn(ctx):
        return []

    fn.__module__ = "ecrwise.analysis.storage_checks"
    with pytest.raises(ValueError, match="storage.redundant_days is declared differently"):
        check("test.conflict", title="t", severity="low", docs="docs/x.md#y", recommendation="r", risk="r",
              options=A)(fn)
    assert "test.conflict" not in discover()


def test_checks_live_in_family_modules():
    def fn(ctx):
        return []

    fn.__module__ = "ecrwise.analysis.somewhere"
    with pytest.raises(ValueError, match="checks live in analysis/<family>_checks.py"):
        check("test.homeless", title="t", severity="low", docs="d#a", recommendation="r", risk="r")(fn)
