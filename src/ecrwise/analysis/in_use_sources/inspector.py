"""Amazon Inspector's coverage: an ECR image Inspector counts in use (`inUseCount` > 0: ECS tasks or EKS pods
running it, https://docs.aws.amazon.com/inspector/v2/APIReference/API_EcrContainerImageMetadata.html) is in
use; with `--protect-pulled-within DAYS`, so is one whose `lastInUseAt` is that recent. It sees workloads in
clusters and accounts the scan does not reach, which is why the check `in-use.inspector-unexplained` lists the
images only Inspector explains."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.image_ref import ecr_image
from ecrwise.records.inspector import InspectorImageCoverage


def references(query: InUseQuery) -> Iterator[Reference]:
    since = None
    if query.pulled_within_days > 0:
        since = (query.now or datetime.now(timezone.utc)) - timedelta(days=query.pulled_within_days)
    for c in query.records.of(InspectorImageCoverage):
        ref = ecr_image(c.account, c.region, c.repository, c.digest)
        if c.in_use_count:
            yield ref, f"inspector:in use by {c.in_use_count} ECS task(s) or EKS pod(s)", c.digest
        elif since is not None and c.last_in_use_at is not None and c.last_in_use_at >= since:
            yield ref, f"inspector:last in use {c.last_in_use_at:%Y-%m-%d}", c.digest


SOURCE = InUseSource(name="inspector", references=references, reads=("inspector_image_coverage",))
