"""EKS collector: the clusters of each scanned region (eks:ListClusters, eks:DescribeCluster) and, for each,
its pods and workload templates listed through the Kubernetes API (ecrwise.kube) with the token
`aws eks get-token` makes.

The token is a presigned STS GetCallerIdentity URL whose signature covers the `x-k8s-aws-id` header (the
cluster's name), base64url-encoded without padding and prefixed `k8s-aws-v1.`; the API server's IAM
authenticator calls that URL to learn who is asking (https://docs.aws.amazon.com/cli/latest/reference/eks/get-token.html,
https://docs.aws.amazon.com/eks/latest/userguide/cluster-auth.html). Who may list what is then up to the
cluster: an EKS access entry (or the aws-auth ConfigMap) mapping the scanning role to a group with the RBAC
of docs/lifecycle.md (https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html).

A cluster that cannot be reached, or whose API refuses the token, is a scan warning (its control-plane record
is still kept); a list RBAC forbids is a warning and the other lists are still read.
"""
from __future__ import annotations

import base64
import os

from botocore.signers import RequestSigner

from ecrwise.aws.families import CollectorFamily
from ecrwise.aws.session import Account
from ecrwise.aws.tasks import Task, TaskResult
from ecrwise.errors import UserError
from ecrwise.records import kubernetes as kube_records
from ecrwise.records.kubernetes import EksCluster, KubeCluster, KubeWorkloadImage, workload_images

IAM_ACTIONS = ["eks:ListClusters", "eks:DescribeCluster"]

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_EXPIRES = 60  # seconds; `aws eks get-token` presigns for 60 s (the token itself is valid 15 minutes)
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# For tests and the demo only: `NAME=URL[,NAME=URL…]` sends a cluster's Kubernetes API calls to URL instead of
# the endpoint DescribeCluster returns (the AWS stand-in returns one that resolves nowhere).
ENDPOINT_OVERRIDE_ENV = "ECRWISE_EKS_ENDPOINTS"


def get_token(account: Account, region: str, cluster: str) -> str:
    """The bearer token `aws eks get-token --cluster-name CLUSTER` prints, signed with the account's session."""
    sts = account.client("sts", region)
    signer = RequestSigner(sts.meta.service_model.service_id, region, "sts", "v4",
                           account.session.get_credentials(), account.session.events)
    url = signer.generate_presigned_url(
        {"method": "GET", "url": f"{sts.meta.endpoint_url.rstrip('/')}/?Action=GetCallerIdentity&Version=2011-06-15",
         "body": {}, "headers": {CLUSTER_ID_HEADER: cluster}, "context": {}},
        region_name=region, expires_in=TOKEN_EXPIRES, operation_name="")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def endpoint_overrides() -> dict[str, str]:
    text = os.environ.get(ENDPOINT_OVERRIDE_ENV, "").strip()
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, url = part.partition("=")
        if not sep or not url:
            raise UserError(f"{ENDPOINT_OVERRIDE_ENV}: {part!r} is not NAME=URL")
        out[name] = url
    return out


def region_task(account: Account, region: str) -> Task:
    def run() -> TaskResult:
        eks = account.client("eks", region)
        names: list[str] = []
        for page in eks.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 100}):
            names.extend(page.get("clusters", []))
        result = TaskResult()
        overrides = endpoint_overrides()
        for name in names:
            c = eks.describe_cluster(name=name)["cluster"]
            rec = EksCluster(account.account_id, region, c["name"], c.get("arn", ""), c.get("status", ""),
                             c.get("version"), c.get("endpoint"), (c.get("certificateAuthority") or {}).get("data"))
            result.records.append(rec)
            endpoint = overrides.get(name, rec.endpoint)
            if rec.status not in ("ACTIVE", "UPDATING") or not endpoint:
                result.problems.append(("ClusterNotActive", f"{region}/{name}: status {rec.status}; workloads not listed"))
                continue
            result.tasks.append(Task("eks", account.account_id, region, f"{region}/{name} workloads",
                                     lambda rec=rec, endpoint=endpoint: collect_workloads(account, rec, endpoint)))
        return result

    return Task("eks", account.account_id, region, f"{account.account_id}/{region} eks", run, region_root=True)


def collect_workloads(account: Account, cluster: EksCluster, endpoint: str) -> TaskResult:
    from ecrwise.kube import client as kube  # the Kubernetes client loads only when there is a cluster

    token = get_token(account, cluster.region, cluster.name)
    try:
        listing = kube.list_endpoint(endpoint, token, cluster.ca_data if endpoint.startswith("https") else None)
    except kube.Unreachable as e:
        return TaskResult(problems=[("ClusterUnreachable", f"{cluster.region}/{cluster.name}: {e}")])
    records: list[object] = [KubeCluster(account.account_id, cluster.region, "eks", cluster.name, endpoint,
                                         listing.server_version)]
    records += workload_images(listing.document, source=f"EKS cluster {cluster.name}", account=account.account_id,
                               region=cluster.region, origin="eks", cluster=cluster.name)
    return TaskResult(records=records, problems=[(code, f"{cluster.region}/{cluster.name}: {msg}")
                                                 for code, msg in listing.problems])


def context_tasks(kubeconfig: str | None, names: list[str]) -> list[Task]:
    """`scan --kube-context NAME` (or `all`): one task per kubeconfig context, authenticated as the kubeconfig
    says. A context the kubeconfig lacks is a usage error (exit 2), before anything is scanned."""
    if not names:
        return []
    from ecrwise.kube import client as kube

    try:
        known = kube.contexts(kubeconfig)
    except kube.Unreachable as e:
        raise UserError(f"--kube-context: {e}") from None
    wanted = known if "all" in names else list(dict.fromkeys(names))
    missing = [n for n in wanted if n not in known]
    if missing:
        raise UserError(f"--kube-context {missing[0]}: not a context of {kubeconfig or '~/.kube/config'} "
                        f"(it has: {', '.join(known) or 'none'})")
    return [Task("kubernetes", "", "*", f"context {n}", lambda n=n: collect_context(kubeconfig, n)) for n in wanted]


def collect_context(kubeconfig: str | None, context: str) -> TaskResult:
    from ecrwise.kube import client as kube

    try:
        host, listing = kube.list_context(kubeconfig, context)
    except kube.Unreachable as e:
        return TaskResult(problems=[("ClusterUnreachable", f"context {context}: {e}")])
    records: list[object] = [KubeCluster("", "", "k8s", context, host, listing.server_version)]
    records += workload_images(listing.document, source=f"context {context}", origin="k8s", cluster=context)
    return TaskResult(records=records, problems=[(code, f"context {context}: {msg}") for code, msg in listing.problems])


FAMILY = CollectorFamily(name="eks", records=(kube_records,), iam_actions=tuple(IAM_ACTIONS), region_task=region_task,
                         warn=("eks", "kubernetes"), summary=(EksCluster, KubeWorkloadImage))
