"""The price book: one dated, cited data file (prices.json) mapping region → item → USD.

Every dollar figure ecrwise prints comes from a `Price` looked up here, so the figure can carry its inputs
(price, unit, source, as-of date) into JSON output. Users override entries with `--price-file`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ecrwise.errors import UserError
from ecrwise.inputs import load_document

GIB = 2**30  # AWS bills "GB" as binary gigabytes.


@dataclass(frozen=True, slots=True)
class Price:
    item: str
    region: str
    usd: float
    unit: str
    source: str
    as_of: str
    # True when the region had no entry and the fallback region's price was used.
    fallback: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = {"item": self.item, "region": self.region, "usd": self.usd, "unit": self.unit,
             "source": self.source, "as_of": self.as_of}
        if self.fallback:
            d["fallback"] = True
        return d


# A price above this (USD per GB, hour or vCPU-hour) is a typo, and multiplied by an estate's bytes it
# would overflow to infinity; ecrwise's dearest list price is under $1.
MAX_PRICE_USD = 1e6
MAX_HOURS_PER_MONTH = 744  # 31 days × 24 hours


class _Override(BaseModel):
    """What a --price-file may contain: any subset of the built-in book's shape."""
    # NaN and infinities are refused here too: pydantic would otherwise accept the strings "nan" / "inf".
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    as_of: str | None = None
    source: str | None = None
    note: str | None = None
    hours_per_month: float | None = Field(None, gt=0, le=MAX_HOURS_PER_MONTH)
    regions: dict[str, dict[str, float]] = {}

    @field_validator("regions")
    @classmethod
    def _in_range(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for region, items in v.items():
            for item, usd in items.items():
                if usd < 0:
                    raise ValueError(f"regions.{region}.{item}: a price cannot be negative")
                if usd > MAX_PRICE_USD:
                    raise ValueError(f"regions.{region}.{item}: {usd:g} USD is above the {MAX_PRICE_USD:g} "
                                     "a price may be")
        return v


class PriceBook:
    def __init__(self, data: dict[str, Any], overrides: dict[tuple[str, str], tuple[float, str, str]] | None = None):
        self._data = data
        self.as_of: str = data["as_of"]
        self.fallback_region: str = data["fallback_region"]
        self.hours_per_month: float = float(data["hours_per_month"])
        self._items: dict[str, dict[str, str]] = data["items"]
        self._sources: dict[str, str] = data["sources"]
        self._regions: dict[str, dict[str, float]] = data["regions"]
        # (region, item) -> (usd, source, as_of) from the user's --price-file.
        self._overrides = overrides or {}
        # The price files loaded over the shipped book (path, source, as_of), for describe().
        self.files: list[dict[str, Any]] = []

    @property
    def regions(self) -> list[str]:
        return sorted(self._regions)

    @property
    def items(self) -> list[str]:
        return sorted(self._items)

    def price(self, region: str, item: str) -> Price:
        if item not in self._items:
            raise KeyError(f"unknown price item {item!r}")
        meta = self._items[item]
        if (region, item) in self._overrides:
            usd, source, as_of = self._overrides[(region, item)]
            return Price(item, region, usd, meta["unit"], source, as_of)
        fallback = region not in self._regions or item not in self._regions[region]
        table = self._regions[self.fallback_region] if fallback else self._regions[region]
        return Price(item, region, float(table[item]), meta["unit"], self._sources[meta["source"]],
                     self.as_of, fallback=fallback)

    def with_overrides(self, path: Path) -> "PriceBook":
        ov = load_document(path, what="price file", schema=_Override)
        merged = dict(self._overrides)
        for region, items in ov.regions.items():
            for item, usd in items.items():
                if item not in self._items:
                    raise UserError(f"{path}: regions.{region}.{item}: unknown price item "
                                    f"(known: {', '.join(self.items)})")
                merged[(region, item)] = (float(usd), ov.source or f"price file {path}", ov.as_of or self.as_of)
        book = PriceBook(self._data, merged)
        book.files = self.files + [{"path": str(path), "source": ov.source or f"price file {path}",
                                    "as_of": ov.as_of or self.as_of}]
        if ov.hours_per_month is not None:
            book.hours_per_month = ov.hours_per_month
        return book

    def describe(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "fallback_region": self.fallback_region,
                "hours_per_month": self.hours_per_month, "overridden": len(self._overrides),
                **({"price_files": self.files} if self.files else {})}


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Any]:
    return json.loads(resources.files("ecrwise.pricing").joinpath("prices.json").read_text())


def load_price_book(override_path: Path | str | None = None) -> PriceBook:
    book = PriceBook(_builtin())
    return book.with_overrides(Path(override_path)) if override_path else book
