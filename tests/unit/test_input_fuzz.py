"""Property tests: whatever bytes a user file holds, and whatever number an option gets, `ecrwise.cli.main.main()`
ends with a clean exit status, never a traceback.

Every file-taking command runs in this process (`main(argv)`, SystemExit caught), against a small store and,
for the commands that go on to AWS with a valid file, a stub on 127.0.0.1 that denies every request the way
AWS does (STS's XML error; ECS's and ECR's JSON error), so a valid document ends in exit 3, "AWS denied",
without a network. `bench/fuzz_inputs.py` drives the same targets with thousands of cases.
"""
from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import os
import random
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrwise.lifecycle.policy import parse_policy
from ecrwise.lifecycle.templates import get_template
from ecrwise.remediate.integrity import seal
from ecrwise.remediate.lifecycle_rollout import policy_text, protect_tag, with_protection
from ecrwise.timefmt import iso

ACCOUNT, REGION = "123456789012", "us-east-1"
POLICY = get_template("playbook-base")
IMAGES = {"images": [
    {"repository": "web", "digest": "sha256:" + "a" * 64, "tags": ["v1"], "pushed_at": "2025-01-01T00:00:00Z",
     "last_pulled_at": None, "storage_class": "standard", "archived_at": None,
     "layers": [{"digest": "sha256:" + "b" * 64, "size": 1024}], "manifests": []},
    {"repository": "web", "digest": "sha256:" + "c" * 64, "tags": [], "pushed_at": "2025-02-01T00:00:00+02:00",
     "layers": [{"digest": "sha256:" + "d" * 64, "size": 2048}]},
]}
PRICES = {"as_of": "2026-01-01", "source": "contract", "note": "n", "hours_per_month": 730,
          "regions": {REGION: {"ecr_storage_gb_month": 0.09, "nat_gateway_gb": 0.04}}}
IN_USE = {"images": [f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:v1",
                     {"image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web@sha256:{'a' * 64}", "reason": "batch"}]}
# Plans and backups as ecrwise writes them: sealed with their digest, a plan written now (older ones are stale)
# and putting the policy with ecrwise's protection rule first (`apply` refuses anything else before any AWS call).
_NEW_POLICY = policy_text(with_protection(parse_policy(POLICY)))
PLAN = seal({"ecrwise": "0.1.0", "kind": "lifecycle-plan", "created_at": iso(datetime.now(timezone.utc)),
             "snapshot": None, "policy_source": "p.json", "policy": _NEW_POLICY, "protect_prefix": "ecrwise-keep-",
             "selection": {"include": ["*"], "exclude": []}, "in_use_sources": {"rollback_revisions": 2},
             "items": [{"account": ACCOUNT, "region": REGION, "repository": "web", "action": "update",
                        "current_policy": None, "new_policy": _NEW_POLICY,
                        "protect_tags": [{"digest": "sha256:" + "a" * 64, "tag": protect_tag("sha256:" + "a" * 64)}]}],
             "excluded": [], "totals": {}, "warnings": []})
LC_BACKUP = seal({"ecrwise": "0.1.0", "kind": "lifecycle-backup", "created_at": "2026-01-01T00:00:00Z", "source": "x",
                  "items": [{"account": ACCOUNT, "region": REGION, "repository": "web", "previous_policy": POLICY,
                             "added_tags": [{"digest": "sha256:" + "a" * 64, "tag": protect_tag("sha256:" + "a" * 64)}],
                             "removed_tags": []}]})
_PREVIOUS = {"deploymentCircuitBreaker": {"enable": False, "rollback": False}, "maximumPercent": 200,
             "minimumHealthyPercent": 100}
ECS_BACKUP = seal({"ecrwise": "0.1.0", "kind": "ecs-circuit-breaker-backup", "created_at": "2026-01-01T00:00:00Z",
                   "services": [{"service_arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web", "region": REGION,
                                 "cluster": "prod", "service": "web", "previous": _PREVIOUS,
                                 "planned": _PREVIOUS | {"deploymentCircuitBreaker": {"enable": True,
                                                                                     "rollback": True}}}]})
AGENT_CONFIG = ("#!/bin/bash\ncat <<'EOF' >> /etc/ecs/ecs.config\nECS_CLUSTER=prod\nECS_IMAGE_PULL_BEHAVIOR=once\n"
                "ECS_ENGINE_AUTH_DATA={\"r\":{\"username\":\"u\",\"password\":\"p\"}}\nEOF\n")


@dataclass(frozen=True)
class Target:
    """One file-taking command: the valid seed document, and the argv with the fuzzed file in FILE's place."""
    name: str
    seed: bytes
    argv: Callable[[Path, "Env"], list[str]]
    json_doc: bool = True


@dataclass
class Env:
    dir: Path
    policy: Path
    images: Path
    store: Path
    missing_store: Path


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, indent=1).encode()


TARGETS = [
    Target("lifecycle lint", POLICY.encode(), lambda f, e: ["lifecycle", "lint", f]),
    Target("lifecycle simulate --policy", POLICY.encode(),
           lambda f, e: ["lifecycle", "simulate", "--images", e.images, "--policy", f, "--at", "2026-01-01"]),
    Target("lifecycle simulate --images", _dumps(IMAGES),
           lambda f, e: ["lifecycle", "simulate", "--images", f, "--policy", e.policy, "--at", "2026-01-01",
                         "--format", "json"]),
    Target("lifecycle simulate --price-file", _dumps(PRICES),
           lambda f, e: ["lifecycle", "simulate", "--images", e.images, "--policy", e.policy, "--price-file", f,
                         "--format", "json"]),
    Target("repos --price-file", _dumps(PRICES),
           lambda f, e: ["repos", "--store", e.store, "--price-file", f, "--format", "json"]),
    Target("lifecycle plan --policy", POLICY.encode(),
           lambda f, e: ["lifecycle", "plan", "--policy", f, "--store", e.store, "--format", "json"]),
    Target("lifecycle plan --in-use-file", _dumps(IN_USE),
           lambda f, e: ["lifecycle", "plan", "--policy", e.policy, "--in-use-file", f, "--store", e.store,
                         "--format", "json"]),
    Target("lifecycle apply", _dumps(PLAN), lambda f, e: ["lifecycle", "apply", f]),
    Target("lifecycle restore", _dumps(LC_BACKUP), lambda f, e: ["lifecycle", "restore", f]),
    Target("ecs restore", _dumps(ECS_BACKUP), lambda f, e: ["ecs", "restore", f]),
    Target("ecs agent-config", AGENT_CONFIG.encode(), lambda f, e: ["ecs", "agent-config", f, "--format", "json"],
           json_doc=False),
]


# -- mutations (shared with bench/fuzz_inputs.py) ----------------------------------------------------------

ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, -1e308, 10**39, "", "x" * 5000, "\u202e\x1b[2J", [], {},
                         [None], {"": None}, "NaN", "2025-13-45T99:99:99Z", "sha256:", 2**63, -(2**63)]


def _paths(doc: Any, loc: tuple = ()) -> Iterator[tuple]:
    yield loc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*loc, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*loc, i))


def _set(doc: Any, loc: tuple, value: Any) -> Any:
    if not loc:
        return value
    doc = json.loads(json.dumps(doc))
    cur = doc
    for k in loc[:-1]:
        cur = cur[k]
    cur[loc[-1]] = value
    return doc


def _raw_json(value: Any) -> str:
    # Python's json writes NaN/Infinity for float specials; the loader must refuse them either way.
    return json.dumps(value)


def mutate(seed: bytes, rnd: random.Random, json_doc: bool) -> tuple[str, bytes]:
    """One fuzzed file from a valid seed: (kind of mutation, bytes)."""
    kinds = ["random-bytes", "non-utf8", "deep-nesting", "huge-int", "nan-infinity", "wrong-type", "truncated",
             "gzip", "truncated-gzip", "base64", "odd", "bit-flip", "duplicate-key", "empty"]
    kind = rnd.choice(kinds)
    text = seed.decode()
    doc = json.loads(text) if json_doc else None
    if kind == "random-bytes":
        return kind, rnd.randbytes(rnd.randint(0, 400))
    if kind == "non-utf8":
        i = rnd.randint(0, len(seed))
        return kind, seed[:i] + rnd.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xfe\xff"]) + seed[i:]
    if kind == "deep-nesting":
        n = rnd.choice([65, 1000, 100_000])
        opener = rnd.choice(["[", '{"a":', "[{\"a\":"])
        return kind, (opener * n).encode() + (b"]" * n if rnd.random() < 0.5 else b"")
    if kind in ("huge-int", "nan-infinity", "wrong-type", "duplicate-key") and not json_doc:
        line = rnd.choice(["ECS_CLUSTER=" + "9" * 5000, "ECS_X=NaN", "ECS_" + "A" * 10000 + "=1", "\x00\x1b[2J",
                           "ECS_ENGINE_AUTH_DATA=" + "{" * 1000])
        return kind, (text + line + "\n").encode()
    if kind == "huge-int":
        loc = rnd.choice(list(_paths(doc)))
        marker = "__HUGE__"
        return kind, json.dumps(_set(doc, loc, marker)).replace(f'"{marker}"', "9" * rnd.choice([41, 4301, 20000])
                                                                ).encode()
    if kind == "nan-infinity":
        loc = rnd.choice(list(_paths(doc)))
        marker = "__NAN__"
        return kind, json.dumps(_set(doc, loc, marker)).replace(
            f'"{marker}"', rnd.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"])).encode()
    if kind == "wrong-type":
        out = doc
        for _ in range(rnd.randint(1, 3)):
            loc = rnd.choice(list(_paths(out)))
            out = _set(out, loc, rnd.choice(ODD_VALUES))
        return kind, json.dumps(out).encode()
    if kind == "truncated":
        return kind, seed[:rnd.randint(0, len(seed))]
    if kind == "gzip":
        return kind, gzip.compress(seed)
    if kind == "truncated-gzip":
        gz = gzip.compress(seed)
        cut = rnd.randint(0, len(gz) - 1)
        data = gz[:cut] if rnd.random() < 0.6 else gz[:cut] + bytes([gz[cut] ^ 0xFF]) + gz[cut + 1:]
        return kind, base64.b64encode(data) if rnd.random() < 0.3 else data
    if kind == "base64":
        return kind, base64.b64encode(seed)
    if kind == "bit-flip":
        b = bytearray(seed)
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
        return kind, bytes(b)
    if kind == "duplicate-key":
        return kind, text.replace("{", '{"kind": 1, "kind": 2, ', 1).encode()
    if kind == "empty":
        return kind, rnd.choice([b"", b"{}", b"[]", b"null", b"\xef\xbb\xbf{}", b"   ", b'""', b"0"])
    # "odd": valid JSON, surprising content — a BOM, extra keys, unicode, numbers at the edges, arrays emptied.
    odd = doc if json_doc else text
    if json_doc:
        for _ in range(rnd.randint(1, 4)):
            loc = rnd.choice(list(_paths(odd)))
            pick = rnd.choice([[], {}, "\u0000", "é" * 300, 0, -0.0, 1e-320, 2**53 + 1, "2025-01-01T00:00:00",
                               "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", {"extra": 1}])
            odd = _set(odd, loc, pick)
        data = json.dumps(odd, ensure_ascii=rnd.random() < 0.5).encode()
    else:
        data = (text + rnd.choice(["ECS_CLUSTER=\n", "ECS_=x\n", "echo 'ECS_X=1' | sudo tee -a /etc/ecs/ecs.config\n",
                                   "ECS_IMAGE_PULL_BEHAVIOR=ALWAYS\n", "=\n"])).encode()
    return kind, (b"\xef\xbb\xbf" + data) if rnd.random() < 0.2 else data


# -- running main() in this process ------------------------------------------------------------------------

class _Deny(BaseHTTPRequestHandler):
    """Answers every AWS request as AWS does when the credentials may not make it."""

    def _answer(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if self.headers.get("X-Amz-Target"):  # JSON protocol (ECR, ECS)
            body = json.dumps({"__type": "AccessDeniedException", "message": "denied by the fuzz stub"}).encode()
            ctype = "application/x-amz-json-1.1"
        else:  # query protocol (STS)
            body = (b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                    b"<Message>denied by the fuzz stub</Message></Error></ErrorResponse>")
            ctype = "text/xml"
        self.send_response(403)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _answer

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def deny_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def aws_environ(url: str, state: Path) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "fuzz", "AWS_SECRET_ACCESS_KEY": "fuzz",
            "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard", "AWS_EC2_METADATA_DISABLED": "true",
            "XDG_STATE_HOME": str(state), "XDG_DATA_HOME": str(state)}


def make_env(d: Path) -> Env:
    from ecrwise.records.ecr import Image, ImageLayer, Repository
    from ecrwise.store import Store

    policy = d / "policy.json"
    policy.write_text(POLICY)
    images = d / "images.json"
    images.write_text(json.dumps(IMAGES))
    store = d / "store.duckdb"
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    digest = "sha256:" + "a" * 64
    repo = Repository(ACCOUNT, REGION, "web", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/web",
                      f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web", t0, "MUTABLE", False, "AES256", {}, None)
    image = Image(ACCOUNT, REGION, "web", digest, ["v1"], t0, None, 1, "m", None, 1024)
    layer = ImageLayer(ACCOUNT, REGION, "web", digest, "sha256:" + "b" * 64, 1024)
    with Store(store) as s:
        s.save_scan(t0, [ACCOUNT], [REGION], ["ecr"], {Repository: [repo], Image: [image], ImageLayer: [layer]}, [],
                    "fuzz")
    return Env(d, policy, images, store, d / "missing.duckdb")


@dataclass
class Outcome:
    code: int
    traceback: bool
    err: str
    out: str = ""

    def strict_json_ok(self) -> bool:
        """For a successful `--format json` run: stdout is one strict JSON document (no NaN / Infinity)."""
        def refuse(name: str) -> Any:
            raise ValueError(name)

        try:
            json.loads(self.out, parse_constant=refuse)
            return True
        except ValueError:
            return False


def run_main(argv: list[Any]) -> Outcome:
    """`ecrwise ARGV` in this process: its exit status, and whether a traceback reached stderr or escaped."""
    from ecrwise.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    escaped = False
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else -1)
        except BaseException:  # noqa: BLE001 — exactly what must never happen
            escaped, code = True, -2
    text = err.getvalue()
    return Outcome(code, escaped or "Traceback (most recent call last)" in text, text, out.getvalue())


def crash_files(state: Path) -> list[Path]:
    return sorted((state / "ecrwise" / "crash").glob("crash-*")) if (state / "ecrwise").exists() else []


# -- the suite's properties --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_env() -> Iterator[tuple[Env, Path]]:
    mp = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory() as tmp, deny_stub() as url:
        d = Path(tmp)
        for k in list(os.environ):
            if k.startswith("AWS_"):
                mp.delenv(k)
        for k, v in aws_environ(url, d / "state").items():
            mp.setenv(k, v)
        yield make_env(d), d / "state"
    mp.undo()


def test_every_seed_is_valid_and_accepted(fuzz_env):
    env, state = fuzz_env
    for t in TARGETS:
        f = env.dir / "seed"
        f.write_bytes(t.seed)
        res = run_main(t.argv(f, env))
        # The commands that go on to AWS stop at the stub's denial (3); all others succeed.
        expected = 3 if t.name in ("lifecycle apply", "lifecycle restore", "ecs restore") else 0
        assert (res.code, res.traceback) == (expected, False), (t.name, res.err)
    assert crash_files(state) == []


FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(target=st.sampled_from(TARGETS), seed=st.integers(0, 2**32))
def test_no_file_makes_main_raise_or_crash(fuzz_env, target, seed):
    env, state = fuzz_env
    kind, data = mutate(target.seed, random.Random(seed), target.json_doc)
    f = env.dir / "fuzzed"
    f.write_bytes(data)
    res = run_main(target.argv(f, env))
    assert not res.traceback, (target.name, kind, res.err)
    # 0 or 2; 3 only where a file is valid and the command went on to AWS (the stub denies).
    allowed = {0, 2, 3} if target.name in ("lifecycle apply", "lifecycle restore", "ecs restore") else {0, 2}
    assert res.code in allowed, (target.name, kind, res.code, res.err)
    assert crash_files(state) == [], (target.name, kind, res.err)
    if res.code == 0 and "json" in target.argv(f, env):
        assert res.strict_json_ok(), (target.name, kind, res.out[:500])


@FUZZ
@given(target=st.sampled_from(TARGETS), data=st.binary(max_size=300))
def test_arbitrary_bytes_to_every_loader(fuzz_env, target, data):
    env, state = fuzz_env
    f = env.dir / "bytes"
    f.write_bytes(data)
    res = run_main(target.argv(f, env))
    assert not res.traceback and res.code in {0, 2}, (target.name, res.err)


NUMBER_TEXT = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e308", "1e999", "-0", "0", "-1", "1e-320",
                     "9" * 400, "0x10", "", " ", "1_000", "1e6", "1000001"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**30, 10**30).map(str))

FLOAT_OPTIONS = [
    ["network", "cost", "--azs", "2", "--pull-gb-month"],
    ["network", "cost", "--azs", "2", "--pull-gb-month", "10", "--pulls-per-month"],
    ["network", "--spike-k"],
    ["network", "alarms", "--k"],
    ["network", "alarms", "--min-gb-hour"],
    ["pulls", "--crash-loop-threshold"],
    ["ecs", "--crash-loop-threshold"],
    ["lifecycle", "simulate", "--images", "{images}", "--policy", "{policy}", "--at"],
    ["lifecycle", "simulate", "--images", "{images}", "--policy", "{policy}", "--at", "+{value}d", "--list"],
    ["network", "cost", "--pull-gb-month", "10", "--azs"],
    ["repos", "--top"],
    ["repos", "--snapshot"],
]


@FUZZ
@given(option=st.sampled_from(FLOAT_OPTIONS), value=NUMBER_TEXT)
def test_no_number_makes_main_raise_or_crash(fuzz_env, option, value):
    env, state = fuzz_env
    argv = [a.format(images=env.images, policy=env.policy, value=value) for a in option]
    if "{value}" not in "".join(option):
        argv.append(value)
    argv += ["--store", env.store] if argv[0] in ("network", "pulls", "ecs", "repos") else []
    res = run_main(argv)
    assert not res.traceback and res.code in {0, 2}, (argv, res.code, res.err)
    assert crash_files(state) == [], (argv, res.err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
