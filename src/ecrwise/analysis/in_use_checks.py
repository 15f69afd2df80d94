"""In-use checks: what the in-use sources say about each other. Pure."""
from __future__ import annotations

from typing import Iterable

from ecrwise.analysis.checks import CheckContext, Finding, check
from ecrwise.analysis.facts import in_use

DOCS = "docs/reports.md"


# Inspector counts the ECS tasks and EKS pods running an image wherever they run
# (https://docs.aws.amazon.com/inspector/v2/APIReference/API_EcrContainerImageMetadata.html); an image it counts
# that no other source explains runs somewhere the scan does not see (a cluster, an account, a region).
@check("in-use.inspector-unexplained", title="Image in use per Inspector that no other source explains",
       severity="medium", facts=(in_use,), docs=f"{DOCS}#in-use-inspector-unexplained",
       risk="A workload ecrwise cannot see runs this image. Inspector's count protects it only while Inspector "
            "keeps scanning; every other view of the estate (pulls, ECS hygiene, rollback targets) misses the "
            "workload.",
       recommendation="Find the workload and let ecrwise see it: scan its account (--role-arn / --org-role) and "
                      "region, name its cluster's kubeconfig context (--kube-context), or list the image in an "
                      "--in-use-file with a reason.")
def inspector_unexplained(ctx: CheckContext) -> Iterable[Finding]:
    used = in_use(ctx)
    for (repo, digest), names in sorted(used.sources.items()):
        if names != ["inspector"]:
            continue
        account, region, name = repo
        reasons = used.digests(repo).get(digest, [])
        yield ctx.finding(
            account=account, region=region,
            resource=f"arn:aws:ecr:{region}:{account}:repository/{name}/{digest}",
            message=f"{name}@{digest[:19]}…: {'; '.join(reasons)}, but no scanned workload runs it",
            evidence={"repository": name, "digest": digest, "reasons": list(reasons)})
