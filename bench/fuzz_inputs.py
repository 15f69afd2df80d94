"""Fuzz every file-taking command: N fuzzed files through `ecrwise.cli.main.main()` in this process.

    PYTHONPATH=src python bench/fuzz_inputs.py [--cases 5000] [--seed 12]

Prints the number of cases, tracebacks (an exception that escaped main() or a traceback on stderr), internal
errors (exit 70 with a crash file) and the exit-code histogram, overall and per command and per kind of
mutation. The targets, seeds and mutations are the suite's (tests/unit/test_input_fuzz.py). Commands that go
on to AWS with a valid file meet a stub on 127.0.0.1 that denies every request, so they end in 3.
Exit status 1 when any case produced a traceback or an internal error.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))

import test_input_fuzz as fz  # noqa: E402  (the suite's targets and mutations)

AWS_TARGETS = {"lifecycle apply", "lifecycle restore", "ecs restore"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--show", type=int, default=5, help="Print the first N failing cases.")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    codes: Counter[int] = Counter()
    by_target: dict[str, Counter[int]] = defaultdict(Counter)
    by_kind: dict[str, Counter[int]] = defaultdict(Counter)
    failures: list[tuple[str, str, int, str]] = []
    tracebacks = internal = bad_json = 0
    with tempfile.TemporaryDirectory() as tmp, fz.deny_stub() as url:
        d = Path(tmp)
        for k in list(os.environ):
            if k.startswith("AWS_"):
                del os.environ[k]
        state = d / "state"
        os.environ.update(fz.aws_environ(url, state))
        env = fz.make_env(d)
        f = d / "fuzzed"
        t0 = time.monotonic()
        for i in range(args.cases):
            target = fz.TARGETS[i % len(fz.TARGETS)]  # every command gets the same share
            kind, data = fz.mutate(target.seed, rnd, target.json_doc)
            f.write_bytes(data)
            res = fz.run_main(target.argv(f, env))
            codes[res.code] += 1
            by_target[target.name][res.code] += 1
            by_kind[kind][res.code] += 1
            crashed = res.code == 70
            # A success with --format json must print strict JSON (an earlier version printed NaN).
            not_json = res.code == 0 and "json" in target.argv(f, env) and not res.strict_json_ok()
            if res.traceback or crashed or not_json:
                tracebacks += res.traceback
                internal += crashed
                bad_json += not_json
                if len(failures) < args.show:
                    failures.append((target.name, kind, res.code, res.err[-600:]))
        elapsed = time.monotonic() - t0
        crash_files = len(fz.crash_files(state))

    def hist(c: Counter[int]) -> str:
        return "  ".join(f"{code}:{n}" for code, n in sorted(c.items()))

    print(f"cases {args.cases} (seed {args.seed}) in {elapsed:.1f} s, {args.cases / elapsed:.0f}/s")
    print(f"tracebacks {tracebacks}  internal errors (exit 70) {internal}  crash files {crash_files}  "
          f"non-strict JSON output {bad_json}")
    print(f"exit codes  {hist(codes)}")
    print("\nper command:")
    for name, c in sorted(by_target.items()):
        print(f"  {name:34s} {hist(c)}")
    print("\nper mutation:")
    for kind, c in sorted(by_kind.items()):
        print(f"  {kind:34s} {hist(c)}")
    unexpected = {code for name, c in by_target.items() for code in c
                  if code not in ({0, 2, 3} if name in AWS_TARGETS else {0, 2})}
    if unexpected:
        print(f"\nunexpected exit codes: {sorted(unexpected)}")
    for name, kind, code, err in failures:
        print(f"\n--- {name} / {kind} -> {code}\n{err}")
    return 1 if tracebacks or internal or bad_json or unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
