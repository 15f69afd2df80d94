"""Kubernetes (EKS clusters, kubeconfig contexts, `--kube-pods` files): what each pod runs (the digest its
container status reports, whatever its tag points to now) and what its spec names (a restarted pod pulls the
tag again), and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs,
including the old ReplicaSets a Deployment keeps for rollback."""
from __future__ import annotations

from typing import Iterator

from ecrwise.analysis.in_use_sources import InUseQuery, InUseSource, Reference
from ecrwise.records.image_ref import InvalidImageRef, parse_image_ref
from ecrwise.records.kubernetes import KubeWorkloadImage


def references(query: InUseQuery) -> Iterator[Reference]:
    for c in query.records.of(KubeWorkloadImage):
        for text, digest in ((c.running, c.image_digest), (c.image, None)):
            if not text:
                continue
            try:
                ref = parse_image_ref(text)  # a cluster may run anything; what is not a reference protects nothing
            except InvalidImageRef:
                continue
            yield ref, c.reason, digest


SOURCE = InUseSource(name="kubernetes", references=references, reads=("kube_workload_images",))
