"""ISO-8601 UTC times, as every JSON document and the store's snapshot metadata write them."""
from __future__ import annotations

from datetime import datetime, timezone


def iso(t: datetime | None) -> str | None:
    """`2024-05-01T12:00:00Z`; a naive time is taken to be UTC."""
    if t is None:
        return None
    if t.tzinfo is timezone.utc:  # the common case, a third of the time: isoformat ends "+00:00"
        return t.isoformat()[:-6] + "Z"
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
