"""Scan benchmark: ecrwise scan against the playbook's shell loop and Cloud Custodian, in the same run.

A 1,000-repository estate (5 images each) is built in the stand-in; the fault proxy sits in front of it and
adds 20 ms to every request (roughly AWS's latency) and counts requests. Each contender runs as a separate
process against the proxy, as a user would run it. Prints wall time, requests and requests per repository.

    make bench            # installs the AWS CLI and c7n into their own virtualenvs first
    .venv/bin/python bench/scan_bench.py --repos 1000 --shell-subset 40
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from ecrwise.demo.fault_proxy import FaultProxy  # noqa: E402
from ecrwise.demo.standin import DEMO_CREDENTIALS  # noqa: E402


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DEMO_CREDENTIALS)
    env.update({"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"})
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to show what the stand-in itself spent."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(proxy: FaultProxy, standin_pid: int, cmd: list[str], env: dict[str, str],
          cwd: str | None = None) -> tuple[float, int, float, str]:
    proxy.reset_stats()
    cpu0 = cpu_seconds(standin_pid)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proxy.stats()["requests"], cpu_seconds(standin_pid) - cpu0, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--shell-subset", type=int, default=40, help="repositories per region for the shell loop")
    ap.add_argument("--runs", type=int, default=3, help="ecrwise runs (median reported)")
    ap.add_argument("--aws", default=str(ROOT / ".venv-bench-awscli/bin/aws"))
    ap.add_argument("--custodian", default=str(ROOT / ".venv-bench-c7n/bin/custodian"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    # The stand-in and its estate live in a process of their own (see ecrwise.demo.serve).
    standin = subprocess.Popen([sys.executable, "-m", "ecrwise.demo.serve", "--repositories", str(args.repos),
                                "--images", str(args.images)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
    ready = json.loads(standin.stdout.readline())
    url, regions, pid = ready["url"], ready["regions"], standin.pid
    print(f"estate: {ready['repositories']} repositories, {ready['images']} images in {', '.join(regions)} "
          f"built in {time.perf_counter() - t0:.1f}s; proxy latency {args.latency_ms:.0f} ms/request")
    rows = []
    with FaultProxy(url, latency_seconds=args.latency_ms / 1000) as proxy, tempfile.TemporaryDirectory() as tmp:
        env = env_for(proxy.url)
        ecrwise = str(ROOT / ".venv/bin/ecrwise")
        walls, reqs, cpus = [], [], []
        for i in range(args.runs):
            cmd = [ecrwise, "scan", "--only", "ecr", "--store", f"{tmp}/bench{i}.duckdb", "--format", "json"]
            for r in regions:
                cmd += ["--region", r]
            wall, n, cpu, _ = timed(proxy, pid, cmd, env)
            walls.append(wall)
            reqs.append(n)
            cpus.append(cpu)
        rows.append(("ecrwise scan (describe, manifests, policies, tags, metrics)", args.repos,
                     statistics.median(walls), statistics.median(reqs), statistics.median(cpus),
                     f"median of {args.runs}"))

        aws = args.aws if Path(args.aws).exists() else shutil.which("aws")
        if aws:
            env_sh = dict(env, PATH=f"{Path(aws).parent}:{env.get('PATH', '')}")
            wall, n, cpu = 0.0, 0, 0.0
            for r in regions:
                w, k, c, out = timed(proxy, pid, ["bash", str(HERE / "playbook_sizes.sh"), r,
                                                  str(args.shell_subset)], env_sh)
                wall, n, cpu = wall + w, n + k, cpu + c
                assert out.count("\n") == args.shell_subset + 1, out[:500]
            rows.append(("playbook shell loop (aws CLI per repository, sizes only)",
                         args.shell_subset * len(regions), wall, n, cpu, "subset: one process per repository"))
        else:
            rows.append(("playbook shell loop", 0, float("nan"), 0, 0.0, "aws CLI not installed: run `make bench`"))

        custodian = args.custodian if Path(args.custodian).exists() else shutil.which("custodian")
        if custodian:
            policy = Path(tmp) / "ecr-images.yml"
            policy.write_text("policies:\n  - name: ecr-images\n    resource: aws.ecr-image\n")
            cmd = [custodian, "run", "-s", f"{tmp}/c7n-out", "--cache-period", "0", str(policy)]
            for r in regions:
                cmd += ["-r", r]
            wall, n, cpu, _ = timed(proxy, pid, cmd, env, cwd=tmp)
            rows.append(("Cloud Custodian aws.ecr-image (images only)", args.repos, wall, n, cpu, ""))
        else:
            rows.append(("Cloud Custodian", 0, float("nan"), 0, 0.0, "c7n not installed: run `make bench`"))
    standin.stdin.close()
    standin.wait(timeout=30)

    base = next((r for r in rows if r[0].startswith("ecrwise")), None)
    print()
    print(f"{'contender':62} {'repos':>6} {'wall s':>8} {'ms/repo':>8} {'requests':>9} {'req/repo':>8} "
          f"{'stand-in CPU s':>14} {'× ecrwise':>9}  note")
    for name, repos, wall, n, cpu, note in rows:
        per_repo = wall / repos * 1000 if repos else float("nan")
        ratio = per_repo / (base[2] / base[1] * 1000) if base and repos else float("nan")
        print(f"{name:62} {repos:>6} {wall:>8.1f} {per_repo:>8.1f} {n:>9} {n / repos if repos else float('nan'):>8.2f}"
              f" {cpu:>14.1f} {ratio:>9.1f}  {note}")


if __name__ == "__main__":
    main()
