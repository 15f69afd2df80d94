"""Reading image manifests: which layers (digest, compressed size) an image stores, or which children an
index points to. Pure parsing; the collector feeds it BatchGetImage's manifest text."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
}
# What BatchGetImage is asked to return; without acceptedMediaTypes ECR may convert or refuse some types.
ACCEPTED_MEDIA_TYPES = sorted(INDEX_TYPES | MANIFEST_TYPES | {
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
})


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str | None
    layers: list[tuple[str, int]] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    is_index: bool = False
    # False when the manifest gives no layer sizes (schema 1, unknown types): sizes must be estimated.
    sized: bool = True


def parse_manifest(text: str, media_type: str | None = None) -> ParsedManifest:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return ParsedManifest(media_type, sized=False)
    if not isinstance(doc, dict):
        return ParsedManifest(media_type, sized=False)
    mt = doc.get("mediaType") or media_type
    if mt in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
        children = [m["digest"] for m in doc.get("manifests", []) if isinstance(m, dict) and "digest" in m]
        return ParsedManifest(mt, children=children, is_index=True)
    if "layers" in doc and isinstance(doc["layers"], list):
        layers = []
        for layer in doc["layers"]:
            if isinstance(layer, dict) and "digest" in layer and isinstance(layer.get("size"), int):
                layers.append((layer["digest"], layer["size"]))
        return ParsedManifest(mt, layers=layers, sized=len(layers) == len(doc["layers"]))
    # Schema 1 manifests list fsLayers without sizes.
    return ParsedManifest(mt, sized=False)
