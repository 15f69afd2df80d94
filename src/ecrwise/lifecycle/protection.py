"""Protecting images in use inside a lifecycle policy, so that ECR itself never acts on them. Pure.

ECR's evaluation rules say an image matched by the tag selection of a higher-priority rule is never acted on by
a lower-priority rule (https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html, "Lifecycle
policy evaluation rules").
So every image in use carries a tag `ecrwise-keep-<12 hex of its digest>`, and the policy starts with a rule of
priority 1 whose tag selection matches that prefix and whose count (older than 100 years) never fires.
`lifecycle plan` rolls policies out this way; `lifecycle simulate --protect-in-use` evaluates them this way.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Container, Iterable

from ecrwise.lifecycle.images import LifecycleImage
from ecrwise.lifecycle.policy import Policy, Rule

PROTECT_PREFIX = "ecrwise-keep-"
PROTECT_DESCRIPTION = "ecrwise: never expire images in use (tagged ecrwise-keep-*)"
NEVER_DAYS = 36500  # "older than 100 years": the protection rule matches, and never acts


def protect_tag(digest: str) -> str:
    return PROTECT_PREFIX + digest.split(":", 1)[-1][:12]


def protection_rule() -> Rule:
    return Rule(priority=1, tag_status="tagged", tag_prefixes=(PROTECT_PREFIX,), count_type="sinceImagePushed",
                count_unit="days", count_number=NEVER_DAYS, action="expire", description=PROTECT_DESCRIPTION)


def is_protection_rule(rule: Rule) -> bool:
    return rule.tag_prefixes == (PROTECT_PREFIX,) and rule.tag_status == "tagged"


def with_protection(policy: Policy) -> Policy:
    """The policy with the protection rule first; the user's rules keep their order, shifted by one."""
    user = [r for r in policy.rules if not is_protection_rule(r)]
    shifted = [replace(r, priority=r.priority + 1) for r in user] if any(r.priority == 1 for r in user) else user
    return Policy.of([protection_rule(), *shifted])


def as_protected(images: Iterable[LifecycleImage], in_use: Container[str]) -> list[LifecycleImage]:
    """The images as they will be once every image in use carries its protection tag."""
    return [replace(im, tags=tuple(sorted({*im.tags, protect_tag(im.digest)}))) if im.digest in in_use else im
            for im in images]
