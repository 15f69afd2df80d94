"""Shared fixtures: the AWS stand-in (moto in server mode, real HTTP on 127.0.0.1, a free port) and the
demo estate scanned into a store.

moto keeps its state per process, so every stand-in in one test process shares it. Hence:
- `aws`: a clean stand-in for one test (state reset), with the environment pointed at it;
- `scanned_estate`: the demo estate built and scanned once per test process into a store file; tests
  read that store and must not rely on the stand-in's state afterwards (other tests reset it);
- `fresh_estate`: the demo estate built anew in a clean stand-in, for tests that act on it (slower).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from ecrwise.demo.standin import DEMO_CREDENTIALS, StandIn

# No test reads or writes the user's own default store, price files or crash files: the XDG directories
# (and so every default path ecrwise derives from them) point into a directory of this test process's own,
# for in-process runs and the subprocesses they start alike.
_HOME = Path(tempfile.mkdtemp(prefix="ecrwise-tests-"))
os.environ["XDG_DATA_HOME"] = str(_HOME / "data")
os.environ["XDG_STATE_HOME"] = str(_HOME / "state")
os.environ.pop("ECRWISE_STORE", None)
atexit.register(shutil.rmtree, _HOME, True)


@pytest.fixture(scope="session")
def standin() -> Iterator[StandIn]:
    s = StandIn()
    s.start()
    yield s
    s.stop()


def stand_in_environ(url: str) -> dict[str, str]:
    """The environment a subprocess needs to reach the stand-in, and nothing of the developer's AWS set-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DEMO_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = url
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


@pytest.fixture
def aws(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> str:
    standin.reset()
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    for k, v in stand_in_environ(standin.url).items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    return standin.url


@dataclass
class ScannedEstate:
    estate: object  # ecrwise.demo.estate.Estate
    store: Path
    snapshot_id: int
    url: str


def _scan_into(url: str, store: Path, regions: list[str]) -> int:
    from ecrwise.cli.common import Fmt
    from ecrwise.cli.scan_cmd import run_and_save
    from ecrwise.demo.standin import stand_in_env

    with stand_in_env(url):
        snap = run_and_save(profile=None, regions=regions, all_regions=False, role_arns=[], org_role=None,
                            only=None, workers=8, store=store, fmt=Fmt.json, quiet=True)
    return snap.id


@pytest.fixture(scope="session")
def scanned_estate(standin: StandIn, tmp_path_factory: pytest.TempPathFactory) -> ScannedEstate:
    from ecrwise.demo.estate import build_estate

    standin.reset()
    estate = build_estate(standin.url)
    store = tmp_path_factory.mktemp("estate") / "estate.duckdb"
    sid = _scan_into(standin.url, store, list(estate.regions))
    return ScannedEstate(estate, store, sid, standin.url)


@pytest.fixture
def estate_store(scanned_estate: ScannedEstate, tmp_path: Path) -> Path:
    """A private copy of the scanned estate's store, for tests that write to it."""
    dst = tmp_path / "estate.duckdb"
    shutil.copy(scanned_estate.store, dst)
    return dst


@pytest.fixture
def fresh_estate(aws: str, tmp_path: Path) -> ScannedEstate:
    from ecrwise.demo.estate import build_estate

    estate = build_estate(aws)
    store = tmp_path / "estate.duckdb"
    sid = _scan_into(aws, store, list(estate.regions))
    return ScannedEstate(estate, store, sid, aws)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `ecrwise ARGS...` in this process (exit code, stdout, stderr), as the console script would."""
    from ecrwise.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
