"""Run the stand-in with an estate in a process of its own: `python -m ecrwise.demo.serve`.

The benchmark uses it so that the stand-in's own CPU time (moto spends several milliseconds of Python per
request) does not share a core and a GIL with the fault proxy measuring it. Prints one JSON line
(`{"url": ..., "repositories": ..., "images": ...}`) when ready, then serves until stdin closes.
"""
from __future__ import annotations

import argparse
import json
import sys

from ecrwise.demo.estate import build_estate
from ecrwise.demo.standin import StandIn


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ecrwise.demo.serve")
    ap.add_argument("--repositories", type=int, default=None, help="a uniform estate of N repositories")
    ap.add_argument("--images", type=int, default=5, help="images per repository (with --repositories)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    standin = StandIn()
    url = standin.start()
    estate = build_estate(url, seed=args.seed, repositories=args.repositories,
                          images_per_repo=args.images if args.repositories else None)
    print(json.dumps({"url": url, "repositories": len(estate.repositories),
                      "images": sum(len(r.images) for r in estate.repositories),
                      "regions": list(estate.regions)}), flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or exits)
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
