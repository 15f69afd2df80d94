"""List one cluster's workloads with the official client, reading the raw JSON (`_preload_content=False`), so
a live cluster and a `kubectl get … -o json` file feed the same conversion (records.kubernetes).

A list the cluster forbids (RBAC: 403) or lacks (404) is a problem reported with the rest of the lists still
read; a cluster that cannot be reached at all raises `Unreachable`.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

PAGE = 500  # items a list call asks for (the API server pages with metadata.continue)
TIMEOUT = (10, 60)  # connect, read seconds


class Unreachable(Exception):
    """The API server did not answer (connection, TLS, DNS, or a kubeconfig that names no usable cluster)."""


@dataclass
class Listing:
    server_version: str | None = None
    # One `{"kind": "List", "items": [...]}` of every object listed, each item with its `kind` set (a list
    # response's items carry none; kubectl adds it the same way).
    document: dict[str, Any] = field(default_factory=lambda: {"kind": "List", "items": []})
    problems: list[tuple[str, str]] = field(default_factory=list)  # (code, message)


# (kind, API group class, its cluster-wide list method): `kubectl get pods,deploy,rs,sts,ds,job,cronjob -A`.
LISTS: tuple[tuple[str, Callable[[k8s.ApiClient], Any], str], ...] = (
    ("Pod", k8s.CoreV1Api, "list_pod_for_all_namespaces"),
    ("Deployment", k8s.AppsV1Api, "list_deployment_for_all_namespaces"),
    ("ReplicaSet", k8s.AppsV1Api, "list_replica_set_for_all_namespaces"),
    ("StatefulSet", k8s.AppsV1Api, "list_stateful_set_for_all_namespaces"),
    ("DaemonSet", k8s.AppsV1Api, "list_daemon_set_for_all_namespaces"),
    ("Job", k8s.BatchV1Api, "list_job_for_all_namespaces"),
    ("CronJob", k8s.BatchV1Api, "list_cron_job_for_all_namespaces"),
)
# The RBAC rules these lists need (docs/lifecycle.md prints the ClusterRole).
RBAC_RESOURCES = {"": ["pods"], "apps": ["deployments", "replicasets", "statefulsets", "daemonsets"],
                  "batch": ["jobs", "cronjobs"]}


def _configuration(host: str, token: str | None, ca_data: str | None) -> tuple[k8s.Configuration, str | None]:
    cfg = k8s.Configuration()
    cfg.host = host.rstrip("/")
    cfg.retries = urllib3.Retry(total=2, connect=1, read=1, backoff_factor=0.2)
    if token:
        # 36+ reads "BearerToken", older clients "authorization" (kubernetes-client/python#2595).
        cfg.api_key = {"BearerToken": token, "authorization": token}
        cfg.api_key_prefix = {"BearerToken": "Bearer", "authorization": "Bearer"}
    ca_path = None
    if ca_data:
        fd, ca_path = tempfile.mkstemp(prefix="ecrwise-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(ca_data))
        cfg.ssl_ca_cert = ca_path
    return cfg, ca_path


def list_endpoint(host: str, token: str | None, ca_data: str | None) -> Listing:
    """An API server by URL and bearer token (an EKS cluster: endpoint, CA, `aws eks get-token`'s token)."""
    cfg, ca_path = _configuration(host, token, ca_data)
    try:
        with k8s.ApiClient(cfg) as api:
            return list_workloads(api)
    finally:
        if ca_path:
            os.unlink(ca_path)


def contexts(kubeconfig: str | None) -> list[str]:
    """Every context the kubeconfig names (`--kube-context all`)."""
    try:
        found, _ = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError) as e:
        raise Unreachable(f"kubeconfig {kubeconfig or '~/.kube/config'}: {e}") from None
    return [c["name"] for c in found or []]


def list_context(kubeconfig: str | None, context: str) -> tuple[str | None, Listing]:
    """A kubeconfig context's cluster, authenticated as the kubeconfig says (token, cert, exec plugin)."""
    try:
        api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context, persist_config=False)
    except (ConfigException, OSError, ValueError) as e:
        raise Unreachable(f"context {context}: {e}") from None
    with api:
        api.configuration.retries = urllib3.Retry(total=2, connect=1, read=1, backoff_factor=0.2)
        return api.configuration.host, list_workloads(api)


def list_workloads(api: k8s.ApiClient) -> Listing:
    out = Listing()
    try:
        version = json.loads(k8s.VersionApi(api).get_code(_preload_content=False, _request_timeout=TIMEOUT).data)
        out.server_version = version.get("gitVersion")
    except ApiException as e:
        if e.status in (401,):
            raise Unreachable(f"the API server refused the credentials (HTTP {e.status}: {e.reason})") from None
        out.problems.append((f"HTTP{e.status}", f"/version: {e.reason}"))
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise Unreachable(f"{api.configuration.host}: {e}") from None
    for kind, group, method in LISTS:
        lister = getattr(group(api), method)
        token: str | None = None
        try:
            while True:
                kwargs: dict[str, Any] = {"limit": PAGE, "_preload_content": False, "_request_timeout": TIMEOUT}
                if token:
                    kwargs["_continue"] = token
                page = json.loads(lister(**kwargs).data)
                for item in page.get("items") or []:
                    if isinstance(item, dict):
                        out.document["items"].append({"kind": kind, **item})
                token = (page.get("metadata") or {}).get("continue")
                if not token:
                    break
        except ApiException as e:
            code = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(e.status, f"HTTP{e.status}")
            out.problems.append((code, f"list {kind.lower()}s cluster-wide: {e.reason}"))
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            out.problems.append(("ListFailed", f"list {kind.lower()}s cluster-wide: {e}"))
    return out
