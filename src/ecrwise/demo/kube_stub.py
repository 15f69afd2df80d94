"""A stand-in for a Kubernetes API server. No Kubernetes cluster is available here (and moto serves only the
EKS control plane), so this small stdlib HTTP server on 127.0.0.1 answers the cluster-wide list calls ecrwise
makes, in the real API's shape (https://kubernetes.io/docs/reference/using-api/api-concepts/): `GET /version`,
`/api/v1/pods`, `/apis/apps/v1/{deployments,replicasets,statefulsets,daemonsets}` and
`/apis/batch/v1/{jobs,cronjobs}`, each a `…List` with `apiVersion`, `kind`, `metadata.resourceVersion` and
`items` (items without their own kind, as the API sends them), paged by `limit` / `continue`; failures are
`Status` objects (401 Unauthorized, 403 Forbidden). The official client parses these as it would a real
cluster's.

It is fed the objects of a `kubectl get pods,deploy,rs,sts,ds,job,cronjob -A -o json` List, so one fixture
is both what the stub serves and what `scan --kube-pods` imports. With `eks_cluster` set it accepts only the
bearer token `aws eks get-token` makes for that cluster (a base64url presigned STS GetCallerIdentity URL that
signs the `x-k8s-aws-id` header), proving the scan sends it.
"""
from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# path → (kind, the list's apiVersion)
ROUTES = {
    "/api/v1/pods": ("Pod", "v1"),
    "/apis/apps/v1/deployments": ("Deployment", "apps/v1"),
    "/apis/apps/v1/replicasets": ("ReplicaSet", "apps/v1"),
    "/apis/apps/v1/statefulsets": ("StatefulSet", "apps/v1"),
    "/apis/apps/v1/daemonsets": ("DaemonSet", "apps/v1"),
    "/apis/batch/v1/jobs": ("Job", "batch/v1"),
    "/apis/batch/v1/cronjobs": ("CronJob", "batch/v1"),
}


def token_cluster(header: str | None) -> str | None:
    """The cluster an EKS token is for, when `header` is `Bearer k8s-aws-v1.<presigned GetCallerIdentity URL>`
    that signs x-k8s-aws-id; None for anything else."""
    if not header or not header.startswith("Bearer k8s-aws-v1."):
        return None
    encoded = header[len("Bearer k8s-aws-v1."):]
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if query.get("Action") != ["GetCallerIdentity"] or "X-Amz-Signature" not in query:
        return None
    if "x-k8s-aws-id" not in query.get("X-Amz-SignedHeaders", [""])[0].split(";"):
        return None
    return "signed"


class KubeApiStub:
    def __init__(self, objects: list[dict[str, Any]], *, eks_cluster: str | None = None, page_size: int = 2,
                 forbidden: tuple[str, ...] = ()) -> None:
        self.objects = objects
        self.eks_cluster = eks_cluster
        self.page_size = page_size
        self.forbidden = set(forbidden)  # kinds whose list answers 403, as RBAC would
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization header)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                auth = self.headers.get("Authorization")
                stub.requests.append((url.path, auth))
                if stub.eks_cluster is not None and token_cluster(auth) is None:
                    return self._status(401, "Unauthorized", "Unauthorized")
                if url.path.rstrip("/") == "/version":
                    return self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2-eks-stub",
                                            "platform": "linux/amd64"})
                if url.path not in ROUTES:
                    return self._status(404, "NotFound", f"the server could not find the requested resource")
                kind, api_version = ROUTES[url.path]
                if kind in stub.forbidden:
                    resource = url.path.rsplit("/", 1)[-1]
                    return self._status(403, "Forbidden", f'{resource} is forbidden: User "ecrwise" cannot list '
                                        f'resource "{resource}" at the cluster scope')
                items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                         for o in stub.objects if o.get("kind") == kind]
                start = int((query.get("continue") or ["0"])[0])
                limit = int((query.get("limit") or [str(stub.page_size)])[0])
                size = min(limit, stub.page_size)
                meta: dict[str, Any] = {"resourceVersion": "4711"}
                if start + size < len(items):
                    meta["continue"] = str(start + size)
                self._send(200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta,
                                 "items": items[start:start + size]})

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": message, "reason": reason, "code": code})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubectl_list(self) -> dict[str, Any]:
        """What `kubectl get pods,deploy,rs,sts,ds,job,cronjob -A -o json` prints for the same cluster."""
        return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": self.objects}

    def __enter__(self) -> "KubeApiStub":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
