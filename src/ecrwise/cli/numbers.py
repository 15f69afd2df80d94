"""One check for every number the CLI's options take.

Typer's `min=` / `max=` become Click ranges, and a range lets NaN through (every comparison with NaN is
false) and, without a maximum, infinity too; a finite but huge value (1e308) then overflows the arithmetic
downstream (`int(inf)`, dollars of `inf` in JSON). Every float option passes `callback=finite(...)`.
"""
from __future__ import annotations

from typing import Any, Callable

import typer

from ecrwise.errors import UserError
from ecrwise.inputs import check_number

# Upper bounds far above any sensible value, low enough that nothing downstream overflows.
BIG = 1e9


def finite(*, ge: float | None = None, gt: float | None = None, le: float = BIG) -> Callable[[Any], Any]:
    """A Typer option callback: the value if finite and within [ge | (gt, le]; otherwise a usage error (2)."""
    def check(value: Any) -> Any:
        if value is None:
            return None
        try:
            return check_number(value, "value", ge=ge, gt=gt, le=le)
        except UserError as e:
            raise typer.BadParameter(str(e).removeprefix("value: ")) from None

    return check


def aws_region(value: str | None) -> str | None:
    """A Typer option callback for a `--region` that reaches AWS: the region-name format, checked before
    botocore would fail on it with InvalidRegionError while building a client."""
    import re

    from ecrwise.inputs import REGION_PATTERN

    if value is not None and not re.fullmatch(REGION_PATTERN, value):
        raise typer.BadParameter(f"{value!r} is not an AWS region name (such as us-east-1)")
    return value
