"""Lifecycle policy checks (family "lifecycle"): what the repositories' own policies leave behind. Pure.

What a policy does today comes from the lifecycle engine, and the bytes untagged images alone hold from
`untagged_only`, both in the one pass over the images (`analysis.repository_images`).
"""
from __future__ import annotations

from typing import Iterable

from ecrwise.analysis.checks import CheckContext, Finding, check
from ecrwise.analysis.facts import in_use
from ecrwise.analysis.repository_images import repository_pass
from ecrwise.analysis.storage_checks import DOCS, amend_fix, image_pass, iso, money, storage_index
from ecrwise.pricing.book import GIB


@check("lifecycle.policy-keeps-untagged", title="Lifecycle policy expires nothing while untagged images stay",
       severity="low", facts=(storage_index, repository_pass),
       docs=f"{DOCS}#lifecycle-policy-keeps-untagged",
       risk="The repository looks governed, yet its untagged images stay and are billed.",
       recommendation="Add a rule for untagged images (tagStatus untagged, sinceImagePushed N days) to the "
                      "repository's policy: today it expires nothing while untagged images hold bytes.")
def policy_keeps_untagged(ctx: CheckContext) -> Iterable[Finding]:
    sh, images = storage_index(ctx), image_pass(ctx)
    current = images.policies
    for key in sorted(current):
        policy, res = current[key]
        if res.evaluation.expire or res.evaluation.transition:
            continue
        repo, summary = sh.repos[key], images.of(key)
        untagged, nbytes = summary.untagged, summary.untagged_only_bytes
        if not nbytes:
            continue
        cost, arithmetic = money(nbytes, ctx.book, repo.region, "layers only untagged images reference")
        yield ctx.finding(
            repo, resource=repo.arn,
            message=f"{repo.name}: its lifecycle policy expires nothing today, yet {untagged} untagged "
                    f"image(s) alone hold {nbytes / GIB:,.2f} GiB",
            monthly_cost_usd=cost, monthly_savings_usd=cost,
            evidence={"repository": repo.name, "rules": len(policy.rules), "untagged_images": untagged,
                      "untagged_only_bytes": nbytes, "at": iso(ctx.now)},
            arithmetic=arithmetic, fix=amend_fix(repo))


# "After creating a lifecycle policy, the affected images are expired within 24 hours"
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lp_creation.html): an in-use image the policy selects
# today is gone by tomorrow, and a task, pod or function that pulls it then fails.
@check("lifecycle.policy-expires-in-use", title="Lifecycle policy would expire an image in use",
       severity="critical", facts=(in_use, repository_pass),
       docs=f"{DOCS}#lifecycle-policy-expires-in-use",
       risk="The next lifecycle run deletes (or archives) an image a workload runs or rolls back to: the next "
            "task start, pod restart, scale-out or Lambda cold start that pulls it fails.",
       recommendation="Protect the images in use before ECR's next lifecycle run: `ecrwise lifecycle plan "
                      "--policy POLICY --repository NAME` rolls the policy out with a protection rule and tags "
                      "every image in use (`lifecycle protect` refreshes the tags of a policy ecrwise put).")
def policy_expires_in_use(ctx: CheckContext) -> Iterable[Finding]:
    used, current = in_use(ctx), image_pass(ctx).policies
    for key in sorted(current):
        _, res = current[key]
        digests = used.digests(key)
        ev = res.evaluation
        hit = [(im, prio, "expire") for im, prio in ev.expire if im.digest in digests]
        hit += [(im, prio, "transition") for im, prio in ev.transition if im.digest in digests]
        if not hit:
            continue
        hit.sort(key=lambda h: h[0].digest)
        account, region, name = key
        im0 = hit[0][0]
        yield ctx.finding(
            account=account, region=region, resource=f"arn:aws:ecr:{region}:{account}:repository/{name}",
            message=f"{name}: its lifecycle policy would {'expire' if hit[0][2] == 'expire' else 'archive'} "
                    f"{len(hit)} image(s) in use, e.g. {im0.digest[:19]}… ({'; '.join(digests[im0.digest])})",
            evidence={"repository": name, "at": iso(ctx.now), "in_use_acted_on": len(hit),
                      "images": [{"digest": im.digest, "tags": list(im.tags), "action": action,
                                  "rule_priority": prio, "reasons": list(digests[im.digest]),
                                  "sources": list(used.sources.get((key, im.digest), []))}
                                 for im, prio, action in hit]})
