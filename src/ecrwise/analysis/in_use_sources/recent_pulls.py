"""Recent pulls (`--protect-pulled-within DAYS`): images pulled that recently are in use by something the scan
cannot see (CI, on-premises hosts, other clouds). Off by default (0 days): a pull is weak evidence, and a
scanner pulling every image would protect everything. ECR records the pull time (lastRecordedPullTime) only
about once every 24 hours (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageDetail.html),
so a window under two days can miss a pull made today."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.ecr import Image
from ecrwise.records.image_ref import ecr_image


def references(query: InUseQuery) -> Iterator[Reference]:
    if query.pulled_within_days <= 0:
        return
    now = query.now or datetime.now(timezone.utc)
    since = now - timedelta(days=query.pulled_within_days)
    for im in query.records.of(Image):
        if im.last_pulled_at is not None and im.last_pulled_at >= since:
            yield (ecr_image(im.account, im.region, im.repository, im.digest), f"pulled {im.last_pulled_at:%Y-%m-%d} (within {query.pulled_within_days} days)",
                   im.digest)


SOURCE = InUseSource(name="recent_pulls", references=references)
