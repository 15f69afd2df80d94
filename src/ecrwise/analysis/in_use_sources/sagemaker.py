"""SageMaker: every model's container images (an endpoint can be created or scaled from the model at any
time) and each endpoint's deployed images, by the digest it resolved (ResolvedImage)."""
from __future__ import annotations

from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.image_ref import InvalidImageRef, parse_image_ref
from ecrwise.records.sagemaker import SageMakerImage


def references(query: InUseQuery) -> Iterator[Reference]:
    for s in query.records.of(SageMakerImage):
        if s.kind == "model":
            yield s.image, f"sagemaker:model/{s.name} {s.container}", None
            continue
        digest = None
        if s.resolved_image:
            try:
                digest = parse_image_ref(s.resolved_image).digest
            except InvalidImageRef:
                digest = None
        yield s.image, f"sagemaker:endpoint/{s.name}/{s.container}", digest


SOURCE = InUseSource(name="sagemaker", references=references, reads=("sagemaker_images",))
