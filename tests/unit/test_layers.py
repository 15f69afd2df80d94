"""The layers DESIGN.md draws, enforced: the import-linter contracts in pyproject.toml (`[tool.importlinter]`)
hold for ecrwise, and they do break when someone adds a forbidden import (checked on a tiny package built in
tmp_path with one violation at a time)."""
from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from importlinter.api import use_cases  # importing the api module configures import-linter

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "pyproject.toml"
SUBPACKAGES = ("analysis", "aws", "billing", "cli", "kube", "lifecycle", "pricing", "records", "remediate", "report", "store")
MODULES = ("errors", "inputs", "timefmt")


def _lint(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str]]:
    """(passed, contract name → KEPT/BROKEN) from one import-linter run."""
    capsys.readouterr()
    passed = use_cases.lint_imports(config_filename=str(config), cache_dir=None, no_logo=True)
    out = capsys.readouterr().out
    names = [c["name"] for c in tomllib.loads(config.read_text())["tool"]["importlinter"]["contracts"]]
    status = {}
    for line in out.splitlines():
        for name in names:
            if line.startswith(name + " "):
                status[name] = line[len(name):].split()[0]  # KEPT or BROKEN (then e.g. "(1 ignored import)")
    assert set(status) == set(names), out  # every contract ran
    return passed, status


def test_ecrwise_keeps_every_layer_contract(capsys):
    passed, status = _lint(CONFIG, capsys)
    assert passed and set(status.values()) == {"KEPT"}, status


def test_the_boto3_contract_covers_every_package_but_aws_and_demo():
    import ecrwise

    doc = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]
    (aws_only,) = [c for c in doc["contracts"] if c["id"] == "aws-only"]
    every = {f"ecrwise.{m.name}" for m in pkgutil.iter_modules(ecrwise.__path__)}
    assert set(aws_only["source_modules"]) == every - {"ecrwise.aws", "ecrwise.demo"}


# One violation per case, and the contracts it must break (none: the clean package keeps them all). aws importing
# remediate also closes a cycle, since remediate calls aws: the very knot aws/network_apply.py used to tie.
VIOLATIONS = {
    "clean": ({}, set()),
    "boto3-outside-aws": ({"report/__init__.py": "import boto3\n"}, {"aws-only"}),
    "analysis-imports-report": ({"analysis/__init__.py": "from {pkg} import report\n"}, {"pure-analysis"}),
    "aws-imports-remediate": ({"aws/__init__.py": "from {pkg} import remediate\n"},
                              {"aws-below-remediate", "no-cycles"}),
    "records-imports-kube": ({"records/__init__.py": "from {pkg} import kube\n"}, {"kube-client"}),
    "kube-imports-aws": ({"kube/__init__.py": "from {pkg} import aws\n"}, {"kube-below-aws"}),
    "cycle": ({"records/__init__.py": "from {pkg} import store\n", "store/__init__.py": "from {pkg} import records\n"},
              {"no-cycles"}),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_each_contract_breaks_on_its_violation(case, tmp_path, monkeypatch, capsys):
    pkg = "layerprobe_" + case.replace("-", "_")
    root = tmp_path / pkg
    for sub in SUBPACKAGES:
        (root / sub).mkdir(parents=True)
        (root / sub / "__init__.py").write_text("")
    for mod in MODULES:
        (root / f"{mod}.py").write_text("")
    (root / "__init__.py").write_text("")
    # Allowed imports, so the clean package is not trivially empty: remediate → aws and analysis, cli → all.
    (root / "remediate" / "__init__.py").write_text(f"from {pkg} import aws, analysis\n")
    (root / "cli" / "__init__.py").write_text(f"from {pkg} import aws, analysis, report, remediate, store\n")
    (root / "aws" / "__init__.py").write_text("import botocore\n")
    files, broken = VIOLATIONS[case]
    for name, text in files.items():
        path = root / name
        path.write_text(path.read_text() + text.format(pkg=pkg))

    doc = tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]
    lines = [f'root_package = "{pkg}"', "include_external_packages = true"]
    names = {}
    for c in doc["contracts"]:
        names[c["id"]] = c["name"]
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in c.items():
            if key == "ignore_imports":
                continue  # exceptions name ecrwise's own modules, which the probe does not have
            value = [v.replace("ecrwise", pkg) for v in value] if isinstance(value, list) else value
            lines.append(f"{key} = {_toml(value)}")
    config = tmp_path / "layers.toml"
    config.write_text("[tool.importlinter]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    passed, status = _lint(config, capsys)
    expected = {name: "BROKEN" if cid in broken else "KEPT" for cid, name in names.items()}
    assert status == expected
    assert passed is (not broken)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_iam_policy_needs_no_store():
    """`iam-policy` reads only the collectors' declarations: it must not pull in DuckDB (or the analyses)."""
    code = ("import sys, ecrwise.aws.iam as iam; iam.read_only_policy(); iam.apply_policy(); "
            "bad = [m for m in sys.modules if m == 'duckdb' or m.startswith(('ecrwise.analysis', 'ecrwise.remediate'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert res.returncode == 0, res.stdout + res.stderr
