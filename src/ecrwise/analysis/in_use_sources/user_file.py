"""The images a user lists (`--in-use-file`, read by `analysis.in_use.load_in_use_file`): workloads the scan
does not see, with the user's reason."""
from __future__ import annotations

from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference


def references(query: InUseQuery) -> Iterator[Reference]:
    for ref, reason in query.extra:
        yield ref, reason, None


SOURCE = InUseSource(name="user_file", references=references)
