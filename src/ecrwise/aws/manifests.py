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
    # An OCI 1.1 referrer (signature, SBOM, attestation): the digest of the manifest its `subject` names.
    subject: str | None = None
    # The OCI `artifactType` (or, without one, the config's media type for an artifact manifest).
    artifact_type: str | None = None
    # False when there was no manifest text to read at all (BatchGetImage returned none).
    present: bool = True


def parse_manifest(text: str, media_type: str | None = None) -> ParsedManifest:
    if not text:
        # No body to read: nothing about the image is known, whatever its media type says. The caller
        # re-fetches or records the image as unknown; an index's children cannot be inferred from here.
        return ParsedManifest(media_type, sized=False, present=False)
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return ParsedManifest(media_type, sized=False)
    if not isinstance(doc, dict):
        return ParsedManifest(media_type, sized=False)
    mt = doc.get("mediaType") or media_type
    subject = doc.get("subject")
    subject_digest = subject.get("digest") if isinstance(subject, dict) and isinstance(subject.get("digest"), str) else None
    artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None
    if mt in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
        # BuildKit's attestation manifests (platform unknown/unknown) are listed here like any platform
        # manifest: they are children of the index, held with it, and their layers are counted once.
        children = [m["digest"] for m in doc.get("manifests", []) if isinstance(m, dict) and "digest" in m]
        return ParsedManifest(mt, children=children, is_index=True, subject=subject_digest,
                              artifact_type=artifact_type)
    if "layers" in doc and isinstance(doc["layers"], list):
        layers = []
        for layer in doc["layers"]:
            if isinstance(layer, dict) and "digest" in layer and isinstance(layer.get("size"), int):
                layers.append((layer["digest"], layer["size"]))
        if artifact_type is None and subject_digest is not None:
            config = doc.get("config")
            if isinstance(config, dict) and isinstance(config.get("mediaType"), str):
                artifact_type = config["mediaType"]
        return ParsedManifest(mt, layers=layers, sized=len(layers) == len(doc["layers"]), subject=subject_digest,
                              artifact_type=artifact_type)
    # Schema 1 manifests list fsLayers without sizes.
    return ParsedManifest(mt, sized=False)
