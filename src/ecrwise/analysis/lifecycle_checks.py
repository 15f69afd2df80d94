"""Lifecycle policy checks (family "lifecycle"): what the repositories' own policies leave behind. Pure.

What a policy does today comes from the lifecycle engine (the `policy_simulation` fact); the bytes untagged
images alone hold from the storage family's `untagged_only`.
"""
from __future__ import annotations

from typing import Iterable

from ecrwise.analysis.checks import CheckContext, Finding, check
from ecrwise.analysis.facts import in_use, policy_simulation
from ecrwise.analysis.storage_checks import DOCS, amend_fix, iso, money, storage_index, untagged_only
from ecrwise.pricing.book import GIB


@check("lifecycle.policy-keeps-untagged", title="Lifecycle policy expires nothing while untagged images stay",
       severity="low", facts=(storage_index, in_use, policy_simulation),
       docs=f"{DOCS}#lifecycle-policy-keeps-untagged",
       risk="The repository looks governed, yet its untagged images stay and are billed.",
       recommendation="Add a rule for untagged images (tagStatus untagged, sinceImagePushed N days) to the "
                      "repository's policy: today it expires nothing while untagged images hold bytes.")
def policy_keeps_untagged(ctx: CheckContext) -> Iterable[Finding]:
    sh, used, current = storage_index(ctx), in_use(ctx), policy_simulation(ctx)
    for key in sorted(current):
        policy, res = current[key]
        if res.evaluation.expire or res.evaluation.transition:
            continue
        repo = sh.repos[key]
        untagged, nbytes, _ = untagged_only(sh.images.get(key, []), sh.layers.get(key, {}), used.digests(key))
        if not nbytes:
            continue
        cost, arithmetic = money(nbytes, ctx.book, repo.region, "layers only untagged images reference")
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: its lifecycle policy expires nothing today, yet {len(untagged)} untagged "
                    f"image(s) alone hold {nbytes / GIB:,.2f} GiB",
            monthly_cost_usd=cost, monthly_savings_usd=cost,
            evidence={"repository": repo.name, "rules": len(policy.rules), "untagged_images": len(untagged),
                      "untagged_only_bytes": nbytes, "at": iso(ctx.now)},
            arithmetic=arithmetic, fix=amend_fix(repo))
