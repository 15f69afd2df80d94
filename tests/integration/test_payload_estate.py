"""The payload estate: the demo estate with hostile text in the AWS fields that reach our outputs, scanned through
the stand-in, then every command × every format run on it. Nothing may crash; no output (stdout or stderr) may
carry a control byte; no CSV cell may start with a formula character; the Markdown may hold no live link or
image; the HTML report no ESC; Rich markup in AWS text is shown, never interpreted.

Where the payloads go: ECS cluster and service names allow only letters, numbers, hyphens and underscores
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html), so they cannot carry them.
EC2 tag values can (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html): the VPC and subnet
`Name` tags carry them, and a VPC's name is in the network audit, the findings' messages, the CSV, the Markdown
and the HTML. Repository tags carry the formula payloads AWS's tag character set allows (`=`, `+`, `@`, `-`).
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import shutil

import boto3
import duckdb
import pytest
from markdown_it import MarkdownIt

pytestmark = pytest.mark.standin

ESC = "\x1b"
OSC8 = f"{ESC}]8;;http://evil.example{ESC}\\x{ESC}]8;;{ESC}\\"
# One VPC name per payload family; each VPC's name starts with a different formula character. EC2's API is XML,
# which cannot carry C0 control characters (XML 1.0 forbids them), so the scanned names hold markup, formula,
# Markdown and HTML payloads; the control characters go into a copy of the scanned store (`edited`), as the
# records would hold them had any collector (a JSON API) brought them in.
VPC_NAMES = {
    "nat-only": '=HYPERLINK("http://evil.example/","x") [/x] <script>alert(1)</script>',
    "endpoints-broken": "+1 [link=http://evil.example]x[/link] [x](http://evil.example)",
    "endpoints-ok": "@SUM(1) ![i](http://evil.example/i.png) *bold* `code` www.evil.example",
}
CONTROL_NAMES = {
    "nat-only": f'=HYPERLINK("http://evil.example/","x") [/x] {ESC}[2J <script>alert(1)</script>',
    "endpoints-broken": f"+1 [link=http://evil.example]x[/link] {OSC8} \x07 [x](http://evil.example)",
    "endpoints-ok": "@SUM(1) ![i](http://evil.example/i.png) \x9b31m \x7f *bold* `code` www.evil.example",
}
STOP_REASON = f"-1+1 [/x] [link=http://evil.example]x[/link] {ESC}[2J {OSC8} \x07 =cmd|' /C calc'!A0"
SUBNET_NAME = "-2+3 [/x] [bold]x[/bold]"
REPO_TAGS = [{"Key": "team", "Value": "=1+2"}, {"Key": "owner", "Value": "@evil"}, {"Key": "project", "Value": "+x"}]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NEGATIVE = re.compile(r"-\d+(\.\d+)?")


def _poison(url: str, estate) -> None:
    for key, net in estate.networks.items():
        ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1")  # the demo's VPCs
        ec2.create_tags(Resources=[net.vpc_id], Tags=[{"Key": "Name", "Value": VPC_NAMES[key]}])
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [net.vpc_id]}])["Subnets"]
        ec2.create_tags(Resources=[s["SubnetId"] for s in subnets], Tags=[{"Key": "Name", "Value": SUBNET_NAME}])
    for region in estate.regions:
        ecr = boto3.client("ecr", endpoint_url=url, region_name=region)
        for repo in ecr.describe_repositories()["repositories"][:3]:
            ecr.tag_resource(resourceArn=repo["repositoryArn"], tags=REPO_TAGS)


@pytest.fixture(scope="module")
def payload_store(standin, tmp_path_factory):
    """The demo estate, poisoned, scanned with `ecrwise scan` (its own output checked too)."""
    from ecrwise.demo.estate import build_estate
    from ecrwise.demo.standin import stand_in_env

    standin.reset()
    estate = build_estate(standin.url)
    tmp = tmp_path_factory.mktemp("payload")
    store = tmp / "payload.duckdb"
    outputs = []
    with stand_in_env(standin.url):
        _poison(standin.url, estate)
        for fmt in ("table", "json"):
            outputs.append((f"scan {fmt}", *_run("scan", "--store", store, *[a for r in estate.regions
                                                                              for a in ("--region", r)],
                                                 "--format", fmt)))
    edited = tmp / "edited.duckdb"
    shutil.copy(store, edited)
    con = duckdb.connect(str(edited))
    for key, net in estate.networks.items():
        con.execute("UPDATE vpcs SET tags = ? WHERE vpc_id = ?", [json.dumps({"Name": CONTROL_NAMES[key]}), net.vpc_id])
    con.execute("UPDATE ecs_tasks SET stopped_reason = ? WHERE stopped_reason IS NOT NULL", [STOP_REASON])
    con.close()
    return {"scanned": store, "edited": edited}, estate, outputs


def _run(*args) -> tuple[int, str, str]:
    """`ecrwise ARGS…` in this process, stdout and stderr captured as the bytes a terminal would get."""
    import contextlib

    from ecrwise.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def _commands(store: Path, tmp: Path, vpcs: list[str]) -> list[tuple[str, list[str]]]:
    s = ["--store", str(store)]
    f3 = ("table", "json", "csv")
    policy = tmp / "policy.json"
    from ecrwise.lifecycle.templates import get_template

    policy.write_text(get_template("playbook-base"))
    cmds: list[tuple[str, list[str]]] = []
    for fmt in f3:
        cmds += [(f"repos {fmt}", ["repos", *s, "-f", fmt]), (f"pulls {fmt}", ["pulls", *s, "-f", fmt]),
                 (f"pulls-repo {fmt}", ["pulls", "--by", "repository", *s, "-f", fmt]),
                 (f"network {fmt}", ["network", *s, "-f", fmt]), (f"cost {fmt}", ["network", "cost", *s, "-f", fmt]),
                 (f"ecs {fmt}", ["ecs", *s, "-f", fmt]), (f"history {fmt}", ["history", *s, "-f", fmt]),
                 (f"simulate {fmt}", ["lifecycle", "simulate", *s, "-f", fmt]),
                 (f"simulate-list {fmt}", ["lifecycle", "simulate", "--list", *s, "-f", fmt])]
    for fmt in ("table", "json", "csv", "markdown", "sarif"):
        cmds.append((f"findings {fmt}", ["findings", *s, "-f", fmt]))
    cmds.append(("repos playbook", ["repos", "--playbook", *s]))
    for fmt in ("table", "json"):
        cmds.append((f"plan {fmt}", ["lifecycle", "plan", "--policy", str(policy), *s, "-f", fmt]))
        cmds.append((f"export {fmt}", ["export", "--parquet", str(tmp / f"pq-{fmt}"), *s, "-f", fmt]))
    for vpc in vpcs:
        for fmt in ("table", "json", "terraform", "cloudformation"):
            cmds.append((f"fix {vpc} {fmt}", ["network", "fix", "--vpc", vpc, "--out", str(tmp / f"fix-{vpc}-{fmt}"),
                                              *s, "-f", fmt]))
    cmds.append(("report html", ["report", "--html", str(tmp / "report.html"), *s]))
    return cmds


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


@pytest.mark.parametrize("which", ["scanned", "edited"])
def test_every_command_and_format_neutralises_aws_text(payload_store, tmp_path, which):
    stores, estate, scan_outputs = payload_store
    store = stores[which]
    names_in = VPC_NAMES if which == "scanned" else CONTROL_NAMES
    outputs = list(scan_outputs) if which == "scanned" else []
    vpcs = [net.vpc_id for net in estate.networks.values()]
    _, network_json, _ = _run("network", "--store", store, "-f", "json")
    names = {i["name"] for i in json.loads(network_json)["items"]}
    assert names == set(names_in.values())  # JSON stays faithful: the names exactly as AWS holds them
    for name, argv in _commands(store, tmp_path, vpcs):
        outputs.append((name, *_run(*argv)))
    assert len(outputs) >= 50
    for name, code, out, err in outputs:
        assert code == 0, f"{name}: exit {code}: {err[-2000:]}"
        for stream, text in (("stdout", out), ("stderr", err)):
            bad = CONTROL.findall(text)
            assert not bad, f"{name} {stream}: control bytes {sorted(set(bad))!r}"
        if name.endswith(" csv") or name == "repos playbook":
            cells = _csv_cells(out)
            live = [c for c in cells if c.startswith(FORMULA) and not PLAIN_NEGATIVE.fullmatch(c)]
            assert not live, f"{name}: formula cells {live[:3]}"
        if name.endswith(" json") or name.endswith(" sarif"):
            json.loads(out)  # one document, parseable
    by = {name: out for name, _, out, _ in outputs}
    # The payloads did reach the outputs (the test would prove nothing otherwise), shown, not interpreted.
    assert "[link=http://evil.example]x[/link]" in by["network table"] and "[/x]" in by["network table"]
    assert "'=HYPERLINK(" in by["network csv"] and "'+1 " in by["findings csv"]
    if which == "edited":
        assert "\\x1b[2J" in by["network table"] and "\\x07" in by["network table"]
        assert "\\x1b]8;;" in by["findings table"]
        assert "'-1+1 [/x]" in by["pulls csv"] and "[/x] [link=" in by["pulls table"]
    md = by["findings markdown"]
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "HYPERLINK" in md and "<a " not in html and "<img" not in html and "<script" not in html
    assert "http://evil.example" not in md  # no bare URL a GitHub autolinker could turn live
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert ESC not in report and "\x07" not in report and "<script>alert" not in report
    assert "HYPERLINK" in report
