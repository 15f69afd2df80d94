"""Money arithmetic that shows its working: each figure carries the inputs a user needs to check it."""
from __future__ import annotations

from typing import Any

from ecrwise.pricing.book import GIB, Price


def usd(x: float) -> float:
    """Round to cents for output only; sums are taken over unrounded figures."""
    return round(x + 0.0, 2)


def storage_month(stored_bytes: int, price: Price) -> tuple[float, dict[str, Any]]:
    """Monthly storage cost of `stored_bytes` at a per-GB-month price, with its arithmetic."""
    gib = stored_bytes / GIB
    cost = gib * price.usd
    return cost, {
        "bytes": stored_bytes,
        "gib": round(gib, 6),
        "price_usd_per_gb_month": price.usd,
        "price": price.as_dict(),
        "formula": f"{stored_bytes} B / 2^30 × ${price.usd}/GB-month = ${cost:.4f}",
    }
