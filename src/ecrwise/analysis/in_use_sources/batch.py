"""AWS Batch: the images of every ACTIVE job definition revision (a job can be submitted against any of
them at any time), by the tag or digest the definition names."""
from __future__ import annotations

from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.batch import BatchJobImage


def references(query: InUseQuery) -> Iterator[Reference]:
    for j in query.records.of(BatchJobImage):
        if j.status == "ACTIVE":
            yield j.image, f"batch:{j.job_definition_name}:{j.revision}", None


SOURCE = InUseSource(name="batch", references=references, reads=("batch_job_images",))
