"""In-use sources: each module here turns a snapshot's records into the image references some workload uses,
each with the reason it is in use. `analysis.in_use.find_in_use` finds them by walking this package, so a
new source (EKS, Lambda, Batch, …) is one new module declaring

    SOURCE = InUseSource(name="lambda", references=my_function, reads=("lambda_functions", ...))

where `my_function(query: InUseQuery) -> Iterable[Reference]`. A reference is
`(image reference text or ImageRef, reason, digest or None)`: the digest, when the workload reports the one
it runs, wins over what the reference's tag points to now. References outside ECR are ignored. Sources are
pure: they read `query.records`, never AWS.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Callable, Iterable, Union

from ecrwise.records import Records
from ecrwise.records.image_ref import ImageRef

Reference = tuple[Union[str, ImageRef], str, Union[str, None]]


@dataclass(frozen=True)
class InUseQuery:
    """What every source is asked with: the snapshot's records and the caller's options."""
    records: Records
    extra: tuple[tuple[str, str], ...] = ()  # (image reference, reason) the user listed (`--in-use-file`)
    rollback_revisions: int = 2  # newest revisions of a workload's definition kept as rollback targets
    pulled_within_days: int = 0  # `--protect-pulled-within`: images pulled this recently are in use (0: off)
    now: datetime | None = None  # the time "recently" is measured from (None: the current time)


@dataclass(frozen=True)
class InUseSource:
    name: str
    references: Callable[[InUseQuery], Iterable[Reference]]
    reads: tuple[str, ...] = ()  # the record tables `references` reads (the in-use fact's declared reads)


@cache
def sources() -> tuple[InUseSource, ...]:
    """Every module's `SOURCE`, in module-name order (the order reasons are listed in)."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        source = getattr(importlib.import_module(f"{__name__}.{info.name}"), "SOURCE", None)
        if isinstance(source, InUseSource):
            found.append(source)
    return tuple(found)


def reads() -> tuple[str, ...]:
    """Every table finding what is in use reads: the images (to resolve tags) and each source's tables."""
    return tuple(sorted({"images", *(t for s in sources() for t in s.reads)}))
