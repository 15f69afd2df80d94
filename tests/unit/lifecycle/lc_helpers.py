"""Small builders shared by the lifecycle tests."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from ecrwise.lifecycle.engine import Evaluation, evaluate
from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import parse_policy

AT = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def img(name: str, tags: list[str] | tuple[str, ...] = (), *, days: float = 0, pulled_days: float | None = None,
        storage_class: str = "standard", archived_days: float | None = None,
        layers: tuple[tuple[str, int], ...] = (), manifests: tuple[str, ...] = (), repository: str = "repo",
        at: datetime = AT) -> LifecycleImage:
    """An image pushed `days` before `at`; its digest is sha256:<name> so results read like the docs."""
    return LifecycleImage(
        repository=repository,
        digest=f"sha256:{name}",
        tags=tuple(tags),
        pushed_at=at - timedelta(days=days),
        last_pulled_at=None if pulled_days is None else at - timedelta(days=pulled_days),
        storage_class=storage_class,
        archived_at=None if archived_days is None else at - timedelta(days=archived_days),
        layers=layers,
        manifests=tuple(f"sha256:{m}" for m in manifests),
    )


def run(policy: str | dict[str, Any], images: list[LifecycleImage], at: datetime = AT) -> Evaluation:
    text = policy if isinstance(policy, str) else json.dumps(policy)
    return evaluate(parse_policy(text), images, at)


def names(pairs) -> list[str]:
    """Short names of (image, priority) pairs or of images, in result order."""
    out = []
    for p in pairs:
        im = p[0] if isinstance(p, tuple) else p
        out.append(im.digest.split(":", 1)[1])
    return out


def rule(priority: int, selection: dict[str, Any], action: dict[str, Any] | None = None,
         description: str = "") -> dict[str, Any]:
    r: dict[str, Any] = {"rulePriority": priority}
    if description:
        r["description"] = description
    r["selection"] = selection
    r["action"] = action if action is not None else {"type": "expire"}
    return r


def policy(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rules": list(rules)}
