"""Kubernetes records: EKS clusters (control plane), the clusters whose workloads were listed, and every
container image their pods and workload templates name.

`workload_images` is the one conversion from Kubernetes API objects (as JSON dicts) to records. A live cluster
(ecrwise.kube lists it with the official client and hands over the raw JSON) and a file of
`kubectl get pods,deploy,rs,sts,ds,job,cronjob -A -o json` (`scan --kube-pods`, read through ecrwise.inputs)
both go through it, so an import records exactly what a live scan does.

What it reads, per object kind (Kubernetes API reference, https://kubernetes.io/docs/reference/kubernetes-api/):
- Pod: `spec.containers / initContainers / ephemeralContainers[].image` and the matching
  `status.containerStatuses / initContainerStatuses / ephemeralContainerStatuses[].imageID` (the digest running);
- Deployment, StatefulSet, DaemonSet, ReplicaSet, Job: `spec.template.spec`; CronJob:
  `spec.jobTemplate.spec.template.spec`;
- a ReplicaSet owned by a Deployment (`metadata.ownerReferences`) with no replicas is a rollback target (the
  Deployment keeps `spec.revisionHistoryLimit` of them, default 10, ordered by the
  `deployment.kubernetes.io/revision` annotation), as ECS's previous task definition revisions are.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from ecrwise.inputs import load_document, validate
from ecrwise.records.image_ref import image_id_reference


@dataclass(frozen=True, slots=True)
class EksCluster:
    """An EKS cluster's control plane (eks:DescribeCluster). The CA is the public certificate, not a secret."""
    __table__ = "eks_clusters"
    account: str
    region: str
    name: str
    arn: str
    status: str
    version: str | None
    endpoint: str | None
    ca_data: str | None  # certificateAuthority.data, base64 PEM


@dataclass(frozen=True, slots=True)
class KubeCluster:
    """A cluster whose workloads were listed: an EKS cluster, a kubeconfig context or a `--kube-pods` file."""
    __table__ = "kube_clusters"
    account: str  # the EKS cluster's account; "" for a kubeconfig context or a file
    region: str
    origin: str  # eks | k8s
    cluster: str  # EKS cluster name, kubeconfig context name, or the file's name
    endpoint: str | None  # the API server (None for a file)
    server_version: str | None  # /version gitVersion


@dataclass(frozen=True, slots=True)
class KubeWorkloadImage:
    """One container of a pod or of a workload's pod template."""
    __table__ = "kube_workload_images"
    account: str
    region: str
    origin: str  # eks | k8s
    cluster: str
    namespace: str
    kind: str  # Pod | Deployment | ReplicaSet | StatefulSet | DaemonSet | Job | CronJob
    name: str
    container: str
    section: str  # containers | initContainers | ephemeralContainers
    image: str | None  # as the spec names it
    image_id: str | None = None  # a pod's status imageID, as the kubelet reports it
    running: str | None = None  # the reference the imageID names (REPO@sha256:…), when it names a digest
    image_digest: str | None = None
    rollback: bool = False  # a Deployment's old ReplicaSet, kept for `kubectl rollout undo`
    phase: str | None = None  # a pod's status.phase

    @property
    def reason(self) -> str:
        """`eks:prod/payments/deploy/api`, `k8s:ctx/ns/pod/name`, `…/rs/api-7d9f (rollback)`."""
        text = f"{self.origin}:{self.cluster}/{self.namespace}/{SHORT_KIND.get(self.kind, self.kind.lower())}/{self.name}"
        return text + " (rollback)" if self.rollback else text


# kubectl's short names (`kubectl api-resources`).
SHORT_KIND = {"Pod": "pod", "Deployment": "deploy", "ReplicaSet": "rs", "StatefulSet": "sts", "DaemonSet": "ds",
              "Job": "job", "CronJob": "cronjob"}
# What `scan --kube-pods` expects and what the live scan lists.
KINDS = tuple(SHORT_KIND)
SECTIONS = ("containers", "initContainers", "ephemeralContainers")
STATUSES = {"containers": "containerStatuses", "initContainers": "initContainerStatuses",
            "ephemeralContainers": "ephemeralContainerStatuses"}
REVISION = "deployment.kubernetes.io/revision"
DEFAULT_REVISION_HISTORY = 10  # DeploymentSpec.revisionHistoryLimit's default


# -- the subset of the API objects read, as a schema (a file's error names its JSON path) -------------------

class _M(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Container(_M):
    name: StrictStr
    image: Optional[StrictStr] = None


class _PodSpec(_M):
    containers: list[_Container] = []
    initContainers: list[_Container] = []
    ephemeralContainers: list[_Container] = []


class _Template(_M):
    spec: Optional[_PodSpec] = None


class _JobSpec(_M):
    template: Optional[_Template] = None


class _JobTemplate(_M):
    spec: Optional[_JobSpec] = None


class _Spec(_PodSpec):
    template: Optional[_Template] = None
    jobTemplate: Optional[_JobTemplate] = None
    revisionHistoryLimit: Optional[StrictInt] = None
    replicas: Optional[StrictInt] = None


class _ContainerStatus(_M):
    name: StrictStr
    image: Optional[StrictStr] = None
    imageID: Optional[StrictStr] = None


class _Status(_M):
    phase: Optional[StrictStr] = None
    replicas: Optional[StrictInt] = None
    containerStatuses: list[_ContainerStatus] = []
    initContainerStatuses: list[_ContainerStatus] = []
    ephemeralContainerStatuses: list[_ContainerStatus] = []


class _OwnerReference(_M):
    kind: StrictStr
    name: StrictStr


class _Metadata(_M):
    name: StrictStr
    namespace: Optional[StrictStr] = None
    ownerReferences: list[_OwnerReference] = []
    annotations: dict[str, StrictStr] = {}


class KubeObject(_M):
    kind: StrictStr
    metadata: _Metadata
    spec: Optional[_Spec] = None
    status: Optional[_Status] = None


class KubeList(_M):
    """A `v1 List` (kubectl's `-o json` of several kinds) or one kind's list (`PodList`, …)."""
    kind: StrictStr
    items: list[KubeObject]


# -- the conversion -------------------------------------------------------------------------------------

def workload_images(doc: Any, *, source: str, account: str = "", region: str = "", origin: str = "k8s",
                    cluster: str) -> list[KubeWorkloadImage]:
    """Every container image the list `doc` (a JSON dict: `{"kind": "List", "items": [...]}`, each item with
    its `kind`) names, as records. A malformed document is an InputError naming `source` and the JSON path."""
    objects = validate(doc, KubeList, source=source).items
    out: list[KubeWorkloadImage] = []
    base = dict(account=account, region=region, origin=origin, cluster=cluster)

    def template(obj: KubeObject, spec: _PodSpec | None, rollback: bool = False) -> None:
        for section in SECTIONS:
            for c in getattr(spec, section, None) or []:
                out.append(KubeWorkloadImage(**base, namespace=obj.metadata.namespace or "", kind=obj.kind,
                                             name=obj.metadata.name, container=c.name, section=section,
                                             image=c.image, rollback=rollback))

    replica_sets: dict[tuple[str, str], list[KubeObject]] = {}
    deployments: dict[tuple[str, str], KubeObject] = {}
    for obj in objects:
        spec = obj.spec
        if obj.kind == "Pod":
            out.extend(_pod_images(obj, base))
        elif obj.kind == "CronJob":
            job = spec.jobTemplate.spec if spec and spec.jobTemplate else None
            template(obj, job.template.spec if job and job.template else None)
        elif obj.kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            if obj.kind == "Deployment":
                deployments[(obj.metadata.namespace or "", obj.metadata.name)] = obj
            owner = next((o.name for o in obj.metadata.ownerReferences if o.kind == "Deployment"), None)
            if obj.kind == "ReplicaSet" and owner is not None:
                replica_sets.setdefault((obj.metadata.namespace or "", owner), []).append(obj)
                continue
            template(obj, spec.template.spec if spec and spec.template else None)

    # A Deployment's ReplicaSets: those with replicas run now; the rest are its revision history.
    for key, sets in replica_sets.items():
        deployment = deployments.get(key)
        limit = (deployment.spec.revisionHistoryLimit if deployment and deployment.spec
                 and deployment.spec.revisionHistoryLimit is not None else DEFAULT_REVISION_HISTORY)
        live = [rs for rs in sets if _replicas(rs) > 0]
        old = sorted((rs for rs in sets if _replicas(rs) == 0), key=_revision, reverse=True)
        for rs in live:
            template(rs, rs.spec.template.spec if rs.spec and rs.spec.template else None)
        for rs in old[:limit]:
            template(rs, rs.spec.template.spec if rs.spec and rs.spec.template else None, rollback=True)
    return out


def _replicas(rs: KubeObject) -> int:
    return max((rs.spec.replicas or 0) if rs.spec else 0, (rs.status.replicas or 0) if rs.status else 0)


def _revision(rs: KubeObject) -> int:
    text = rs.metadata.annotations.get(REVISION, "")
    return int(text) if text.isdigit() else 0


def _pod_images(pod: KubeObject, base: dict[str, str]) -> Iterator[KubeWorkloadImage]:
    spec, status = pod.spec or _Spec(), pod.status or _Status()
    for section in SECTIONS:
        statuses = {s.name: s for s in getattr(status, STATUSES[section])}
        containers = list(getattr(spec, section))
        # A status whose container the spec lacks (a trimmed export) still says what runs.
        containers += [_Container(name=n, image=s.image) for n, s in statuses.items()
                       if n not in {c.name for c in containers}]
        for c in containers:
            st = statuses.get(c.name)
            running = image_id_reference(st.imageID, c.image or st.image) if st else None
            yield KubeWorkloadImage(**base, namespace=pod.metadata.namespace or "", kind="Pod",
                                    name=pod.metadata.name, container=c.name, section=section, image=c.image,
                                    image_id=st.imageID if st else None, running=running[0] if running else None,
                                    image_digest=running[1] if running else None, phase=status.phase)


def load_kube_file(spec: str) -> tuple[KubeCluster, list[KubeWorkloadImage]]:
    """`scan --kube-pods [NAME=]FILE`: the output of `kubectl get pods,deploy,rs,sts,ds,job,cronjob -A -o json`
    recorded as cluster NAME (default: the file's name without its extension)."""
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).stem, spec
    doc = load_document(path, what="kubectl JSON", allow_gzip=True)
    return (KubeCluster("", "", "k8s", name, None, None),
            workload_images(doc, source=path, origin="k8s", cluster=name))
