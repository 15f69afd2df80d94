"""Lambda: the image of every version of each container-image function, $LATEST and each published version
(by the digest it pins, ResolvedImageUri), with the aliases routing to it. A published version keeps its
digest forever, so an old version behind an alias is as much in use as $LATEST."""
from __future__ import annotations

from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.lambda_ import LambdaFunctionImage


def references(query: InUseQuery) -> Iterator[Reference]:
    for f in query.records.of(LambdaFunctionImage):
        reason = f"lambda:{f.function_name}:{f.version}"
        if f.aliases:
            reason += f" (alias {', '.join(f.aliases)})"
        yield f.resolved_image_uri or f.image_uri, reason, None


SOURCE = InUseSource(name="lambda", references=references, reads=("lambda_function_images",))
