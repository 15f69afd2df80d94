"""Rendering `ecrwise scan`'s summary: the JSON envelope, or a line per snapshot and what the families collected."""
from __future__ import annotations

from ecrwise.aws.families import summary_tables
from ecrwise.report.output import print_warnings
from ecrwise.report.render import Result, View, view
from ecrwise.report.sanitize import line


def _summary(res: Result) -> None:
    snap, s = res.data, res.totals
    print_warnings(res.warnings)
    counts = s["records"]
    if getattr(snap, "pending", ""):  # the store stayed busy: the scan is kept beside it, merged later
        print(line(f"scan kept in {snap.pending} (the store {s['store']} was busy); the next command that opens "
                   f"the store merges it: {s['repositories']} repositories, {s['images']} images, "
                   f"{len(snap.failures)} failure(s)"))
        return
    print(line(f"snapshot {snap.id}: {s['repositories']} repositories, {s['images']} images in "
               f"{len(snap.accounts)} account(s) × {len(snap.regions)} region(s) "
               f"({', '.join(snap.regions)}); {len(snap.failures)} failure(s); store {s['store']}"))
    extra = {k: counts[k] for k in summary_tables() if counts.get(k)}  # the tables each family names
    if extra:
        print("  also: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in extra.items()))


view(View("scan", table=_summary))
