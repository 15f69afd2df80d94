"""Every check on the scanned demo estate reads exactly what it declares; `ecrwise findings` check options
(the documented flags, --set, --config) and `--list-checks` showing them."""
from __future__ import annotations

import json

import pytest

from ecrwise.analysis.checks import FACTS, CheckSession, discover
from ecrwise.cli.snapshot_data import load_records, open_snapshot
from ecrwise.pricing.book import load_price_book


@pytest.mark.parametrize("read", ["loaded", "on demand"])
def test_every_check_reads_exactly_what_it_declares_on_the_demo_estate(scanned_estate, read):
    """With every record loaded, and as `findings` reads the store (tables on demand, SQL facts): the tables an
    SQL fact reads are logged as the records' are."""
    with open_snapshot(scanned_estate.store, scanned_estate.snapshot_id) as (snap, stored):
        records = load_records(scanned_estate.store, snap.id)[1] if read == "loaded" else stored
        session = CheckSession(records, load_price_book(), {"now": snap.taken_at})
        checks = discover()
        for c in checks.values():
            session.run(c)
    assert session.undeclared() == []
    # And nothing is declared that the richest snapshot we have never reads: the declarations are exact.
    for c in checks.values():
        assert set(c.own_reads) == session.reads[c.id] and set(c.facts) == session.used[c.id], c.id
    for f in FACTS.values():
        if f"fact:{f.name}" in session.reads:
            assert set(f.reads) == session.reads[f"fact:{f.name}"], f.name


def findings_json(cli, store, *args):
    res = cli("findings", "--store", store, "--format", "json", *args)
    assert res.code == 0, res.err
    return res.json()


def by_check(doc, check_id):
    return [i for i in doc["items"] if i["check"] == check_id]


def test_the_documented_flags_and_set_and_config_agree(cli, scanned_estate, tmp_path):
    store = str(scanned_estate.store)
    default = findings_json(cli, store)
    assert {i["evidence"]["threshold_days"] for i in by_check(default, "ecr.redundant-repository")} == {90}
    flag = findings_json(cli, store, "--redundant-days", "30", "--large-image-gib", "0.5")
    via_set = findings_json(cli, store, "--set", "storage.redundant_days=30", "--set", "storage.large_image_gib=0.5")
    toml = tmp_path / "options.toml"
    toml.write_text("[storage]\nredundant_days = 30\nlarge_image_gib = 0.5\n")
    via_toml = findings_json(cli, store, "--config", toml)
    js = tmp_path / "options.json"
    js.write_text(json.dumps({"storage.redundant_days": 30, "storage": {"large_image_gib": 0.5}}))
    via_json = findings_json(cli, store, "--config", js)
    for doc in (via_set, via_toml, via_json):
        assert doc["items"] == flag["items"] and doc["totals"] == flag["totals"]
    assert {i["evidence"]["threshold_days"] for i in by_check(flag, "ecr.redundant-repository")} == {30}
    assert len(by_check(flag, "ecr.large-image")) > len(by_check(default, "ecr.large-image"))
    # A flag wins over --set and --config.
    both = findings_json(cli, store, "--config", toml, "--set", "storage.redundant_days=60", "--redundant-days", "30",
                         "--large-image-gib", "0.5")
    assert both["items"] == flag["items"]
    tags = findings_json(cli, store, "--cost-tag", "team", "--cost-tag", "owner")
    assert tags["items"] == findings_json(cli, store, "--set", "storage.cost_tags=team,owner")["items"]
    assert {tuple(i["evidence"]["wanted_any_of"]) for i in by_check(tags, "ecr.no-cost-allocation-tags")} == \
        {("team", "owner")}


@pytest.mark.parametrize("args, named", [
    (["--large-image-gib", "1e308"], "--large-image-gib: storage.large_image_gib"),
    (["--large-image-gib", "inf"], "storage.large_image_gib"),
    (["--redundant-days", "0"], "--redundant-days: storage.redundant_days"),
    (["--crash-loop-threshold", "0"], "ecs.crash_loop_threshold"),
    (["--lifecycle-template", "x"], "--lifecycle-template: storage.lifecycle_template"),
    (["--set", "storage.redundnt_days=3"], "--set: storage.redundnt_days: no check has this option"),
    (["--set", "storage.redundant_days"], "expected FAMILY.OPTION=VALUE"),
    (["--set", "network.spike_k=nan"], "--set: network.spike_k"),
])
def test_bad_option_values_exit_2_naming_the_option(cli, args, named):
    res = cli("findings", "--store", "/nonexistent/never-opened.duckdb", *args)
    assert res.code == 2 and named in res.err and "Traceback" not in res.err, res.err


def test_a_bad_config_file_names_the_file_and_key(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\nredundant_days = -1\n")
    res = cli("findings", "--config", bad)
    assert res.code == 2 and f"--config {bad}: storage.redundant_days:" in res.err
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"storage": {"colour": "blue"}}')
    res = cli("findings", "--config", unknown)
    assert res.code == 2 and f"--config {unknown}: storage.colour: no check has this option" in res.err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    res = cli("findings", "--config", broken)
    assert res.code == 2 and f"--config {broken}: not valid JSON" in res.err
    res = cli("findings", "--config", tmp_path / "missing.toml")
    assert res.code == 2 and "cannot read" in res.err


def test_list_checks_shows_each_check_s_options(cli):
    doc = cli("findings", "--list-checks", "--format", "json").json()
    items = {i["id"]: i for i in doc["items"]}
    assert items["ecr.redundant-repository"]["options"] == [{
        "name": "storage.redundant_days", "type": "integer", "default": 90, "flag": "--redundant-days",
        "help": "No push and no pull for this many days makes a repository redundant."}]
    assert items["ecr.no-cost-allocation-tags"]["options"][0]["default"] == ["team", "cost-center", "owner", "project"]
    assert items["ecs.single-replica"]["options"] == [] and items["ecs.single-replica"]["risk"]
    assert doc["totals"]["options"] == 7
    table = cli("findings", "--list-checks").out
    assert "storage.large_image_gib" in table and "--crash-loop-threshold" in table and "network.spike_k" in table
    # The flags are built from the models: the help names the model's default, the flag itself has none.
    import typer.main

    from ecrwise.cli.findings import app

    params = {o: p for p in typer.main.get_command(app).params for o in p.opts}
    for flag, default in (("--redundant-days", "90"), ("--large-image-gib", "1"), ("--crash-loop-threshold", "12"),
                          ("--lifecycle-template", "playbook-base"),
                          ("--cost-tag", "team, cost-center, owner, project")):
        assert params[flag].default is None and f"Default {default};" in params[flag].help, flag


def test_the_demo_and_findings_count_repositories_without_a_policy_alike(cli, scanned_estate):
    from ecrwise.cli.demo_cmd import no_lifecycle_policy_line
    from ecrwise.cli.snapshot_data import load_inventory
    from ecrwise.store import Store

    with Store(scanned_estate.store, read_only=True) as st:
        _, inv = load_inventory(st, scanned_estate.snapshot_id, load_price_book())
    line = no_lifecycle_policy_line(inv, scanned_estate.store)
    doc = findings_json(cli, str(scanned_estate.store), "--check", "ecr.no-lifecycle-policy")
    retained = [r for r in inv.rows if not r.lifecycle_policy and r.tags.get("ecrwise:retain") == "true"]
    assert retained, "the demo estate has retained repositories without a policy: the test would prove nothing"
    assert line.startswith(f"  · {doc['totals']['findings']} of {len(inv.rows)} repositories have no lifecycle")
    wording = "repositories tagged ecrwise:retain are excluded"
    assert wording in line and all(wording in i["title"] for i in doc["items"])


def test_other_commands_can_take_a_check_option_from_its_model():
    from ecrwise.cli.findings import check_option

    opt = check_option("ecs.crash_loop_threshold")
    assert opt.default == 12.0 and opt.param_decls == ("--crash-loop-threshold",) and "Default 12." in opt.help
