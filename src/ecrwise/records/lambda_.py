"""Lambda records: the container image each version of an image-packaged function runs."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LambdaFunctionImage:
    """One version ($LATEST or a published number) of a `PackageType=Image` function. A published version
    pins the digest it was published with (`resolved_image_uri`); deleting that image puts the version in
    the Failed state (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html)."""
    __table__ = "lambda_function_images"
    account: str
    region: str
    function_name: str
    version: str  # "$LATEST" or the published version number
    image_uri: str  # Code.ImageUri as the function was given it (a tag or a digest)
    resolved_image_uri: str | None  # Code.ResolvedImageUri: REPO@sha256:… the version runs
    aliases: list[str] = field(default_factory=list)  # aliases routing to this version
    state: str | None = None
