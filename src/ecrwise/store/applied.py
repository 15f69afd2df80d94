"""The changes `--apply` made, kept in the store so `billing savings` can compare the bill before and after
them with what ecrwise predicted. One small table, written by the commands that apply (today
`lifecycle apply --apply`), one row per resource changed:

    applied_changes(at TIMESTAMP (UTC), command VARCHAR, account VARCHAR, region VARCHAR, resource VARCHAR,
                    predicted_monthly_savings_usd DOUBLE)

(`at` is quoted in SQL: it is a keyword.) It is not part of a snapshot (a change is not a scan), so it has no snapshot_id and is created on first write;
a store without it has recorded no change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from ecrwise.store import Store

TABLE = "applied_changes"
DDL = (f'CREATE TABLE IF NOT EXISTS {TABLE} ("at" TIMESTAMP NOT NULL, command VARCHAR NOT NULL, '
       "account VARCHAR NOT NULL, region VARCHAR NOT NULL, resource VARCHAR NOT NULL, "
       "predicted_monthly_savings_usd DOUBLE)")


@dataclass(frozen=True)
class AppliedChange:
    at: datetime
    command: str
    account: str
    region: str
    resource: str
    predicted_monthly_savings_usd: float | None


def record_applied(st: Store, changes: Iterable[AppliedChange]) -> int:
    """Append the changes (a store opened for writing); returns how many were recorded."""
    # Naive UTC, as the snapshots' taken_at.
    rows = [(c.at.astimezone(timezone.utc).replace(tzinfo=None), c.command, c.account, c.region, c.resource, c.predicted_monthly_savings_usd) for c in changes]
    if rows:
        st.con.execute(DDL)
        st.con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def applied_changes(st: Store, command: str | None = None) -> list[AppliedChange]:
    """Every recorded change (of one command, if given), oldest first; [] when none was ever recorded."""
    if not st.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [TABLE]).fetchone()[0]:
        return []
    where, params = ("WHERE command = ?", [command]) if command else ("", [])
    rows = st.con.execute(f'SELECT "at", command, account, region, resource, predicted_monthly_savings_usd '
                          f'FROM {TABLE} {where} ORDER BY "at", account, region, resource', params).fetchall()
    return [AppliedChange(r[0].replace(tzinfo=timezone.utc), *r[1:]) for r in rows]


def last_apply(st: Store, command: str | None = None) -> list[AppliedChange]:
    """The changes of the most recent apply (every row sharing the latest `at`); [] when none."""
    changes = applied_changes(st, command)
    if not changes:
        return []
    latest = changes[-1].at
    return [c for c in changes if c.at == latest]
