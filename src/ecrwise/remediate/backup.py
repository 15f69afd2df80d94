"""Durable backups: written (temp file, fsync, rename, fsync the directory) before anything is changed,
so a crash or a kill at any later point leaves a complete file to restore from."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ecrwise.inputs import load_document, output_errors
from ecrwise.store import default_store_path


def default_backup_dir() -> Path:
    return default_store_path().parent / "backups"


def write_durably(path: Path, doc: dict[str, Any]) -> Path:
    """Write `doc` as JSON to `path`; a path that cannot be written is a UserError naming it and the reason."""
    path = Path(path)
    with output_errors(path, "file"):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=2, default=str)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # no half-written file left beside the one asked for
            raise
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def write_backup(directory: Path | None, kind: str, doc: dict[str, Any]) -> Path:
    """Write `doc` as BACKUP_DIR/KIND-TIMESTAMP.json and return the path."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return write_durably((directory or default_backup_dir()) / f"{kind}-{stamp}.json", doc)


def read_json(path: Path, what: str) -> Any:
    """A plan or backup file through the one input loader (ecrwise.inputs): UserError on anything odd."""
    return load_document(path, what=what)
