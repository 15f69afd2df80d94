"""Digests that make a plan or backup file mean what ecrwise wrote: sha256 over a canonical JSON encoding of
every field but `integrity`, recorded in the file's `integrity` field and checked before the file is acted on.

A digest detects an edited, truncated or corrupted file. It is not a signature: anyone who edits a file can
recompute it, so every command that acts on a file also re-validates the content itself (see
`remediate.lifecycle_rollout.check_plan_invariants` and `verify_live`, and
`remediate.ecs_circuit_breaker.check_restore_entries`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ecrwise.errors import UserError

INTEGRITY_FIELD = "integrity"
DIGEST_ALGORITHM = "sha256"
DIGEST_COVERS = ("every field of the document but `integrity`, as canonical JSON: keys sorted, no whitespace "
                 "(separators , and :), non-ASCII as UTF-8, encoded UTF-8")


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def digest_of(doc: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of `doc` without its `integrity` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in doc.items() if k != INTEGRITY_FIELD})).hexdigest()


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` as it will read back from its JSON file, with its digest recorded in `integrity`."""
    # Round-trip first: the digest is over what the file holds (datetimes become text, tuples lists).
    plain = json.loads(json.dumps({k: v for k, v in doc.items() if k != INTEGRITY_FIELD}, default=str))
    plain[INTEGRITY_FIELD] = {"algorithm": DIGEST_ALGORITHM, "covers": DIGEST_COVERS, "digest": digest_of(plain)}
    return plain


def check_seal(doc: Any, path: Path, what: str, fix: str) -> None:
    """UserError (exit 2) unless `doc` carries the digest of its own content. `what` names the command that
    wrote the file ("`ecrwise lifecycle plan`"); `fix` says what to do instead ("re-run …")."""
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a JSON object written by {what}; {fix}")
    sealed = doc.get(INTEGRITY_FIELD)
    if not isinstance(sealed, dict) or not isinstance(sealed.get("digest"), str):
        raise UserError(f"{path}: {INTEGRITY_FIELD}: the file carries no digest (edited, or written by an older "
                        f"ecrwise); {fix}")
    if sealed.get("algorithm") != DIGEST_ALGORITHM:
        raise UserError(f"{path}: {INTEGRITY_FIELD}.algorithm: expected {DIGEST_ALGORITHM!r}, got "
                        f"{sealed.get('algorithm')!r}; {fix}")
    try:
        actual = digest_of(doc)
    except ValueError:  # NaN or Infinity: never in a file ecrwise wrote
        actual = ""
    if actual != sealed["digest"]:
        raise UserError(f"{path}: the file was edited after {what} wrote it (its {DIGEST_ALGORITHM} digest does "
                        f"not match its content); {fix}")
