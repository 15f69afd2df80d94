"""App Runner: the image each image-based service deploys (`ImageIdentifier`), for every service that is not
deleted (a paused service resumes from it). A tag resolves to the digest it names in the snapshot. Blind spot:
App Runner's API does not report the digest a service runs, so after the tag moved (with automatic
deployments off) the running digest may be an older one; protect it with --in-use-file if so."""
from __future__ import annotations

from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.apprunner import AppRunnerService


def references(query: InUseQuery) -> Iterator[Reference]:
    for s in query.records.of(AppRunnerService):
        if s.repository_type == "ECR":
            yield s.image, f"apprunner:{s.name}", None


SOURCE = InUseSource(name="apprunner", references=references, reads=("apprunner_services",))
