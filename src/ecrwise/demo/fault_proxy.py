"""A small fault-injecting HTTP proxy to put in front of the AWS stand-in.

Tests and benchmarks point boto3's ``endpoint_url`` at the proxy; the proxy forwards to the moto
server and, per request, may throttle, fail with a 5xx, stall, drop the connection or deny access,
answering in the wire format of the protocol the request used, so botocore classifies and retries
the fault exactly as it would against AWS.  Stdlib only: it ships with the package.

    with FaultProxy(moto_url, seed=1, throttle_rate=0.3) as proxy:
        ecr = boto3.client("ecr", endpoint_url=proxy.url, ...)
        ...
        proxy.stats()["faults"]["throttle"]

With ``page_size=N`` the proxy also paginates: every answer of an operation AWS paginates (see
``PAGINATED``) is cut into pages of at most N items with a continuation token, in the operation's own wire
format (JSON ``nextToken``, EC2 XML ``<nextToken>``, CBOR ``NextToken``), so botocore's paginators must
follow it. The stand-in's full answer is fetched once (following its own tokens, if any) and later pages
are served from it. ``stats()["pages"]`` counts, per (service, operation), answers served with a token.
"""

from __future__ import annotations

import copy
import http.client
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

__all__ = ["FaultProxy", "FAULT_KINDS", "PAGINATED", "Paged"]

FAULT_KINDS = ("throttle", "error", "delay", "drop", "deny")

# Hop-by-hop headers (RFC 9110 7.6.1) describe one connection, not the message; we also drop
# Expect because the handler has already answered 100-continue and read the body.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_ATTEMPT_RE = re.compile(r"attempt=(\d+)")

# Services that moved from the query protocol to JSON/CBOR but keep their query error codes: AWS
# adds x-amzn-query-error and botocore reports that code (CloudWatch throttling is "Throttling").
_QUERY_COMPATIBLE = frozenset({"monitoring", "sqs"})



class Paged(NamedTuple):
    """How one operation pages, as botocore's paginators-1.json for the service says (input token, the
    page-size parameter, output token, the result list), and for EC2 the XML element of that list."""

    in_token: str
    limit: str | None
    out_token: str
    result: str
    xml_set: str | None = None


# (SigV4 service name, operation) → how it pages. tests/integration/test_scan_pagination.py checks every
# entry against botocore's own paginator and service models, and that the scan calls no paginated
# operation missing here.
PAGINATED: dict[tuple[str, str], Paged] = {
    ("ecr", "DescribeRepositories"): Paged("nextToken", "maxResults", "nextToken", "repositories"),
    ("ecr", "DescribeImages"): Paged("nextToken", "maxResults", "nextToken", "imageDetails"),
    ("ecr", "ListImages"): Paged("nextToken", "maxResults", "nextToken", "imageIds"),
    ("ecr", "DescribePullThroughCacheRules"): Paged("nextToken", "maxResults", "nextToken", "pullThroughCacheRules"),
    ("ecr", "DescribeRepositoryCreationTemplates"): Paged("nextToken", "maxResults", "nextToken",
                                                          "repositoryCreationTemplates"),
    ("ecs", "ListClusters"): Paged("nextToken", "maxResults", "nextToken", "clusterArns"),
    ("ecs", "ListServices"): Paged("nextToken", "maxResults", "nextToken", "serviceArns"),
    ("ecs", "ListTasks"): Paged("nextToken", "maxResults", "nextToken", "taskArns"),
    ("ecs", "ListContainerInstances"): Paged("nextToken", "maxResults", "nextToken", "containerInstanceArns"),
    ("ecs", "ListTaskDefinitions"): Paged("nextToken", "maxResults", "nextToken", "taskDefinitionArns"),
    ("ecs", "ListTaskDefinitionFamilies"): Paged("nextToken", "maxResults", "nextToken", "families"),
    ("ec2", "DescribeInstances"): Paged("NextToken", "MaxResults", "NextToken", "Reservations", "reservationSet"),
    ("ec2", "DescribeVpcs"): Paged("NextToken", "MaxResults", "NextToken", "Vpcs", "vpcSet"),
    ("ec2", "DescribeSubnets"): Paged("NextToken", "MaxResults", "NextToken", "Subnets", "subnetSet"),
    ("ec2", "DescribeRouteTables"): Paged("NextToken", "MaxResults", "NextToken", "RouteTables", "routeTableSet"),
    ("ec2", "DescribeNatGateways"): Paged("NextToken", "MaxResults", "NextToken", "NatGateways", "natGatewaySet"),
    ("ec2", "DescribeVpcEndpoints"): Paged("NextToken", "MaxResults", "NextToken", "VpcEndpoints",
                                           "vpcEndpointSet"),
    ("ec2", "DescribeSecurityGroups"): Paged("NextToken", "MaxResults", "NextToken", "SecurityGroups",
                                             "securityGroupInfo"),
    ("ec2", "DescribeLaunchTemplateVersions"): Paged("NextToken", "MaxResults", "NextToken",
                                                     "LaunchTemplateVersions", "launchTemplateVersionSet"),
    ("ec2", "DescribeTags"): Paged("NextToken", "MaxResults", "NextToken", "Tags", "tagSet"),
    ("sagemaker", "ListModels"): Paged("NextToken", "MaxResults", "NextToken", "Models"),
    ("sagemaker", "ListEndpoints"): Paged("NextToken", "MaxResults", "NextToken", "Endpoints"),
    ("monitoring", "GetMetricData"): Paged("NextToken", "MaxDatapoints", "NextToken", "MetricDataResults"),
    ("organizations", "ListAccounts"): Paged("NextToken", "MaxResults", "NextToken", "Accounts"),
}

_PAGE_TOKEN = "fault-proxy-page."
_PAGE_CACHE_MAX = 4096  # full answers kept for their later pages; the oldest go first

_UPSTREAM_TIMEOUT = 60.0
# Idle keep-alive client connections are closed after this; stop() closes them at once anyway.
_CLIENT_IDLE_TIMEOUT = 120.0


class FaultProxy:
    """Threaded HTTP/1.1 proxy on 127.0.0.1 that injects AWS-shaped faults.

    Per request, after ``latency_seconds`` (always added, emulating the network):

    * deny: a SigV4 credential scope naming a region in ``deny_regions`` or an access key in
      ``deny_access_keys`` gets 403 AccessDenied (never forwarded);
    * one of throttle / error / drop is drawn with probabilities ``throttle_rate``,
      ``error_rate``, ``drop_rate`` (they are exclusive bands of one draw);
    * independently, with ``delay_rate``, the request stalls ``delay_seconds`` before forwarding.

    Draws come from one ``random.Random(seed)`` under a lock, so a sequential run is reproducible.
    ``only_services`` (SigV4 service names, e.g. ``{"ecr"}``) limits all faults to those services.
    ``max_faults_per_call`` caps random faults to the first N attempts of an SDK call (from the
    ``amz-sdk-request: attempt=N`` header botocore sends), so every call eventually succeeds
    within its retry budget and backoff time stays bounded; deny is not capped.
    """

    def __init__(
        self,
        upstream: str,
        *,
        seed: int = 0,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        delay_rate: float = 0.0,
        delay_seconds: float = 0.0,
        drop_rate: float = 0.0,
        latency_seconds: float = 0.0,
        deny_regions: Iterable[str] = (),
        deny_access_keys: Iterable[str] = (),
        only_services: Iterable[str] | None = None,
        max_faults_per_call: int | None = None,
        page_size: int | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        for name, rate in (
            ("throttle_rate", throttle_rate),
            ("error_rate", error_rate),
            ("delay_rate", delay_rate),
            ("drop_rate", drop_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if throttle_rate + error_rate + drop_rate > 1.0 + 1e-9:
            raise ValueError("throttle_rate + error_rate + drop_rate must not exceed 1")
        if page_size is not None and page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.upstream = upstream
        self._up_scheme = parts.scheme
        self._up_host = parts.hostname
        self._up_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._up_prefix = parts.path.rstrip("/")
        self.seed = seed
        self.throttle_rate = throttle_rate
        self.error_rate = error_rate
        self.delay_rate = delay_rate
        self.delay_seconds = delay_seconds
        self.drop_rate = drop_rate
        self.latency_seconds = latency_seconds
        self.deny_regions = frozenset(deny_regions)
        self.deny_access_keys = frozenset(deny_access_keys)
        self.only_services = None if only_services is None else frozenset(only_services)
        self.max_faults_per_call = max_faults_per_call
        self.page_size = page_size
        self._pages_lock = threading.Lock()
        self._page_cache: OrderedDict[str, tuple[str, list[tuple[str, str]], object, list]] = OrderedDict()

        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._reset_counters()

        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Bind 127.0.0.1 on a free port, serve in background threads, return the proxy URL."""
        if self._server is not None:
            return self.url  # type: ignore[return-value]
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fault-proxy-accept",
            daemon=True,
        )
        self._serve_thread.start()
        return self.url

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, cut open connections (idle keep-alives too) and join every thread."""
        server = self._server
        if server is None:
            return
        self._stopping.set()  # wakes requests sleeping on latency/delay
        server.shutdown()
        server.server_close()
        server.abort_connections()
        server.join_threads(timeout)
        if self._serve_thread is not None:
            self._serve_thread.join(timeout)
        self._server = None
        self._serve_thread = None

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- counters --------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        with self._stats_lock:
            self._connections = 0
            self._requests = 0
            self._forwarded = 0
            self._upstream_errors = 0
            self._faults: Counter[str] = Counter({k: 0 for k in FAULT_KINDS})
            self._operations: Counter[tuple[str, str]] = Counter()
            self._pages: Counter[tuple[str, str]] = Counter()

    def reset_stats(self) -> None:
        self._reset_counters()

    def stats(self) -> dict:
        """Snapshot: client connections accepted, every request received (faulted ones
        included), requests forwarded, per fault kind and per (service, operation)."""
        with self._stats_lock:
            return {
                "connections": self._connections,
                "requests": self._requests,
                "forwarded": self._forwarded,
                "upstream_errors": self._upstream_errors,
                "faults": dict(self._faults),
                "operations": dict(self._operations),
                "pages": dict(self._pages),
            }

    def _count(
        self,
        *,
        connection: bool = False,
        request: tuple[str, str] | None = None,
        fault: str | None = None,
        forwarded: bool = False,
        upstream_error: bool = False,
    ) -> None:
        with self._stats_lock:
            if connection:
                self._connections += 1
            if request is not None:
                self._requests += 1
                self._operations[request] += 1
            if fault is not None:
                self._faults[fault] += 1
            if forwarded:
                self._forwarded += 1
            if upstream_error:
                self._upstream_errors += 1

    def _count_page(self, op: tuple[str, str]) -> None:
        with self._stats_lock:
            self._pages[op] += 1

    # -- decisions -------------------------------------------------------------------------

    def _draw(self) -> tuple[str | None, bool, float]:
        """One exclusive fault (or None), whether to delay, and a spare draw for variants."""
        with self._lock:
            r, d, v = self._rng.random(), self._rng.random(), self._rng.random()
        kind = None
        if r < self.throttle_rate:
            kind = "throttle"
        elif r < self.throttle_rate + self.error_rate:
            kind = "error"
        elif r < self.throttle_rate + self.error_rate + self.drop_rate:
            kind = "drop"
        return kind, d < self.delay_rate, v

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _RequestInfo:
    __slots__ = (
        "service", "region", "access_key", "operation", "protocol", "content_type", "attempt"
    )

    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        h = handler.headers
        path, _, query = handler.path.partition("?")
        self.service = self.region = self.access_key = "unknown"
        m = _CREDENTIAL_RE.search(h.get("Authorization", ""))
        if m is None and "X-Amz-Credential" in query:  # presigned URL
            cred = parse_qs(query).get("X-Amz-Credential", [""])[0]
            m = _CREDENTIAL_RE.search("Credential=" + cred)
        if m is not None:
            self.access_key, _, self.region, self.service = m.groups()

        ctype = h.get("Content-Type", "").split(";")[0].strip().lower()
        self.content_type = ctype
        target = h.get("X-Amz-Target")
        form_action = None
        if ctype.startswith("application/x-amz-json"):
            self.protocol = "json"
        elif h.get("smithy-protocol", "").lower() == "rpc-v2-cbor" or ctype == "application/cbor":
            self.protocol = "cbor"
        elif ctype == "application/x-www-form-urlencoded" or "Action=" in query:
            self.protocol = "ec2" if self.service == "ec2" else "query"
            form = parse_qs(query)
            if ctype == "application/x-www-form-urlencoded":
                form.update(parse_qs(body.decode("utf-8", "replace")))
            form_action = form.get("Action", [None])[0]
        else:
            self.protocol = "rest"

        if target:
            self.operation = target.rsplit(".", 1)[-1]
        elif form_action:
            self.operation = form_action
        elif self.protocol == "cbor" and "/operation/" in path:
            self.operation = path.rsplit("/operation/", 1)[1].strip("/")
        else:
            self.operation = f"{handler.command} {path}"

        m = _ATTEMPT_RE.search(h.get("amz-sdk-request", ""))
        self.attempt = int(m.group(1)) if m else None


class _Server(HTTPServer):
    """HTTPServer with one tracked daemon thread per connection, so stop() can cut them all."""

    daemon_threads = True
    # urllib3 pools open up to ~64 connections at once; the stdlib default backlog of 5 would
    # make the kernel drop SYNs and stall clients for a second on retransmit.
    request_queue_size = 256
    proxy: FaultProxy

    def __init__(self, *args, **kwargs) -> None:
        self._conn_lock = threading.Lock()
        self._handlers: set[_Handler] = set()
        self._threads: set[threading.Thread] = set()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        self.proxy._count(connection=True)
        t = threading.Thread(
            target=self._run, args=(request, client_address), name="fault-proxy-conn", daemon=True
        )
        with self._conn_lock:
            self._threads.add(t)
        t.start()

    def _run(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._conn_lock:
                self._threads.discard(threading.current_thread())

    def handle_error(self, request, client_address) -> None:
        # Clients vanishing mid-request (or stop() cutting them) is normal here; stay quiet
        # about socket errors but still print real bugs.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def register(self, handler: _Handler) -> None:
        with self._conn_lock:
            self._handlers.add(handler)

    def unregister(self, handler: _Handler) -> None:
        with self._conn_lock:
            self._handlers.discard(handler)

    def abort_connections(self) -> None:
        with self._conn_lock:
            handlers = list(self._handlers)
        for h in handlers:
            h.abort()

    def join_threads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as urllib3 pools expect
    timeout = _CLIENT_IDLE_TIMEOUT
    # The stdlib writes headers and body as separate unbuffered sends; with Nagle on and the
    # client's delayed ACK that stalls every answer ~40 ms.  Buffer the answer and send at once.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None
        self.server.register(self)
        # stop() sets the flag before it aborts registered handlers, so a connection accepted
        # during stop() is cut by one side or the other instead of idling until its timeout.
        if self.server.proxy._stopping.is_set():
            self.abort()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.unregister(self)
            if self._upstream is not None:
                self._upstream.close()

    def abort(self) -> None:
        """Unblock this connection's thread wherever it waits (client read or upstream read)."""
        for sock in (self.connection, getattr(self._upstream, "sock", None)):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    # Every method goes through the same path.
    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # -- request flow ----------------------------------------------------------------------

    def _handle(self) -> None:
        proxy = self.server.proxy
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        info = _RequestInfo(self, body)
        proxy._count(request=(info.service, info.operation))

        proxy._sleep(proxy.latency_seconds)
        if proxy._stopping.is_set():
            self.close_connection = True
            return

        faultable = proxy.only_services is None or info.service in proxy.only_services
        if faultable and (
            info.region in proxy.deny_regions or info.access_key in proxy.deny_access_keys
        ):
            proxy._count(fault="deny")
            self._send(*_deny_response(info))
            return

        if faultable and (
            proxy.max_faults_per_call is None
            or info.attempt is None
            or info.attempt <= proxy.max_faults_per_call
        ):
            kind, delay, variant = proxy._draw()
            if kind == "drop":
                # No status line at all: the client sees the connection closed, which botocore
                # retries as a connection error.  The body was read, so close sends FIN, not RST.
                proxy._count(fault="drop")
                self.close_connection = True
                return
            if kind == "throttle":
                proxy._count(fault="throttle")
                self._send(*_throttle_response(info))
                return
            if kind == "error":
                proxy._count(fault="error")
                self._send(*_server_error_response(info, variant))
                return
            if delay:
                proxy._count(fault="delay")
                proxy._sleep(proxy.delay_seconds)
                if proxy._stopping.is_set():  # woken by stop(): cut, don't forward late
                    self.close_connection = True
                    return

        spec = PAGINATED.get((info.service, info.operation)) if proxy.page_size else None
        codec = _CODECS.get(info.protocol) if spec else None
        try:
            if codec is not None and spec is not None:
                status, reason, headers, data = self._paginate(info, body, spec, codec)
            else:
                status, reason, headers, data = self._forward(body)
        except OSError as exc:
            proxy._count(upstream_error=True)
            if proxy._stopping.is_set():
                self.close_connection = True
                return
            msg = json.dumps({"message": f"fault proxy: upstream unreachable: {exc}"}).encode()
            self._send(502, [("Content-Type", "application/json")], msg)
            return
        proxy._count(forwarded=True)
        self._relay(status, reason, headers, data)

    def _paginate(self, info: _RequestInfo, body: bytes, spec: Paged, codec: "_Codec"
                  ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Answer one page of a paginated operation from the stand-in's full answer."""
        proxy = self.server.proxy
        params = codec.request(body)
        token = codec.get(params, spec.in_token)
        if token is not None and not str(token).startswith(_PAGE_TOKEN):
            return self._forward(body)  # not ours: pass through untouched
        if token is None:
            params = codec.without(params, {spec.in_token, spec.limit} - {None})
            items: list = []
            upstream_token = None
            while True:  # the stand-in's own pages, if it has any, make up the full answer
                ask = params if upstream_token is None else codec.put(params, spec.in_token, upstream_token)
                status, reason, headers, data = self._forward(codec.encode_request(ask))
                if status != 200:
                    return status, reason, headers, data
                doc = codec.response(data)
                items.extend(codec.items(doc, spec))
                upstream_token = codec.token(doc, spec)
                if not upstream_token:
                    break
            key = uuid.uuid4().hex
            with proxy._pages_lock:
                proxy._page_cache[key] = (reason, headers, doc, items)
                while len(proxy._page_cache) > _PAGE_CACHE_MAX:
                    proxy._page_cache.popitem(last=False)
            offset = 0
        else:
            key, _, at = str(token)[len(_PAGE_TOKEN):].partition(".")
            with proxy._pages_lock:
                cached = proxy._page_cache.get(key)
            if cached is None or not at.isdigit():
                return _invalid_token_response(info)
            reason, headers, doc, items = cached
            offset = int(at)
        end = offset + proxy.page_size
        more = end < len(items)
        if more:
            proxy._count_page((info.service, info.operation))
        out = codec.page(doc, spec, items[offset:end], f"{_PAGE_TOKEN}{key}.{end}" if more else None)
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-amz-crc32")]
        return 200, reason, headers, out

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream_conn(self) -> http.client.HTTPConnection:
        # One persistent upstream connection per client connection (and so per thread).
        if self._upstream is None:
            proxy = self.server.proxy
            cls = (
                http.client.HTTPSConnection
                if proxy._up_scheme == "https"
                else http.client.HTTPConnection
            )
            self._upstream = cls(proxy._up_host, proxy._up_port, timeout=_UPSTREAM_TIMEOUT)
        return self._upstream

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        names = {k.lower() for k, _ in headers}
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        if "host" not in names:
            headers.append(("Host", f"{proxy._up_host}:{proxy._up_port}"))
        path = proxy._up_prefix + self.path

        for attempt in range(2):
            conn = self._upstream_conn()
            reused = conn.sock is not None
            try:
                # Headers go verbatim (Host included: the SigV4 signature covers it).
                conn.putrequest(self.command, path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                # A kept-alive upstream connection the server has since closed: the request
                # never reached it, so one retry on a fresh connection is safe.
                if not reused or attempt or proxy._stopping.is_set():
                    raise
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise OSError(str(exc)) from exc
        raise AssertionError("unreachable")

    def _relay(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        out = []
        for k, v in headers:
            lk = k.lower()
            if lk in _HOP_BY_HOP:
                continue
            # HEAD answers keep the upstream length of the body they would have had.
            if lk == "content-length" and not (self.command == "HEAD"):
                continue
            out.append((k, v))
        if not no_body:
            out.append(("Content-Length", str(len(data))))
        self._write(status, reason, out, b"" if no_body else data)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        headers = [*headers, ("Content-Length", str(len(body)))]
        if self.command == "HEAD":
            body = b""
        self._write(status, None, headers, body)

    def _write(self, status: int, reason: str | None, headers, body: bytes) -> None:
        try:
            self.send_response_only(status, reason)
            for k, v in headers:
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


# -- paginating in each wire format --------------------------------------------------------------


class _Codec:
    """Read and write one protocol's request parameters and answers, as far as paginating needs."""

    def request(self, body: bytes): ...
    def encode_request(self, params) -> bytes: ...
    def response(self, data: bytes): ...
    def items(self, doc, spec: Paged) -> list: ...
    def token(self, doc, spec: Paged) -> str | None: ...
    def page(self, doc, spec: Paged, items: list, token: str | None) -> bytes: ...

    def get(self, params, key: str):
        return params.get(key)

    def without(self, params, keys: set[str]):
        return {k: v for k, v in params.items() if k not in keys}

    def put(self, params, key: str, value: str):
        return {**params, key: value}


class _JsonCodec(_Codec):
    def request(self, body: bytes) -> dict:
        return json.loads(body or b"{}")

    def encode_request(self, params: dict) -> bytes:
        return json.dumps(params).encode()

    def response(self, data: bytes) -> dict:
        return json.loads(data or b"{}")

    def items(self, doc: dict, spec: Paged) -> list:
        return list(doc.get(spec.result) or [])

    def token(self, doc: dict, spec: Paged) -> str | None:
        return doc.get(spec.out_token)

    def page(self, doc: dict, spec: Paged, items: list, token: str | None) -> bytes:
        out = {k: v for k, v in doc.items() if k != spec.out_token}
        out[spec.result] = items
        if token:
            out[spec.out_token] = token
        return json.dumps(out).encode()


class _CborCodec(_JsonCodec):
    def request(self, body: bytes) -> dict:
        return _cbor_decode(body) if body else {}

    def encode_request(self, params: dict) -> bytes:
        return _cbor(params)

    def response(self, data: bytes) -> dict:
        return _cbor_decode(data) if data else {}

    def page(self, doc: dict, spec: Paged, items: list, token: str | None) -> bytes:
        out = {k: v for k, v in doc.items() if k != spec.out_token}
        out[spec.result] = items
        if token:
            out[spec.out_token] = token
        return _cbor(out)


class _Ec2Codec(_Codec):
    """EC2's query protocol: form parameters in, XML out (the list is ``<xxxSet><item>…``)."""

    def request(self, body: bytes) -> list[tuple[str, str]]:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)

    def encode_request(self, params: list[tuple[str, str]]) -> bytes:
        return urlencode(params).encode()

    def get(self, params, key: str):
        return next((v for k, v in params if k == key), None)

    def without(self, params, keys: set[str]):
        return [(k, v) for k, v in params if k not in keys]

    def put(self, params, key: str, value: str):
        return [*self.without(params, {key}), (key, value)]

    def response(self, data: bytes) -> ET.Element:
        return ET.fromstring(data)

    @staticmethod
    def _ns(doc: ET.Element) -> str:
        return doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""

    def items(self, doc: ET.Element, spec: Paged) -> list:
        found = doc.find(self._ns(doc) + (spec.xml_set or ""))
        return list(found) if found is not None else []

    def token(self, doc: ET.Element, spec: Paged) -> str | None:
        found = doc.find(self._ns(doc) + "nextToken")
        return found.text if found is not None and found.text else None

    def page(self, doc: ET.Element, spec: Paged, items: list, token: str | None) -> bytes:
        ns = self._ns(doc)
        if ns:
            ET.register_namespace("", ns[1:-1])  # keep EC2's default namespace, no ns0: prefixes
        out = copy.deepcopy(doc)
        for old in out.findall(ns + "nextToken"):
            out.remove(old)
        found = out.find(ns + (spec.xml_set or ""))
        if found is None:
            found = ET.SubElement(out, ns + (spec.xml_set or ""))
        for child in list(found):
            found.remove(child)
        found.extend(copy.deepcopy(items))
        if token:
            ET.SubElement(out, ns + "nextToken").text = token
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(out, encoding="unicode").encode()


_CODECS: dict[str, _Codec] = {"json": _JsonCodec(), "cbor": _CborCodec(), "ec2": _Ec2Codec()}


def _invalid_token_response(info: _RequestInfo):
    return _error_response(
        info,
        400,
        json_code="InvalidParameterException",
        query_code="InvalidParameterValue",
        ec2_code="InvalidNextToken",
        fault_type="Sender",
        message="The pagination token is invalid or has expired (fault proxy).",
    )


# -- AWS-shaped error answers ------------------------------------------------------------------


def _request_id() -> str:
    return str(uuid.uuid4())


def _error_response(
    info: _RequestInfo,
    status: int,
    *,
    json_code: str,
    query_code: str,
    ec2_code: str,
    fault_type: str,
    message: str,
) -> tuple[int, list[tuple[str, str]], bytes]:
    rid = _request_id()
    if info.protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{ec2_code}</Code><Message>{message}</Message>"
            f"</Error></Errors><RequestID>{rid}</RequestID></Response>"
        ).encode()
        return status, [("Content-Type", "text/xml;charset=UTF-8")], body
    if info.protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{query_code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body
    headers = [("x-amzn-RequestId", rid), ("x-amzn-ErrorType", json_code)]
    if info.service in _QUERY_COMPATIBLE:
        headers.append(("x-amzn-query-error", f"{query_code};{fault_type}"))
    payload = {"__type": json_code, "message": message}
    if info.protocol == "cbor":
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return status, headers, _cbor(payload)
    # Same JSON version the client sent (1.0 or 1.1); REST-JSON callers accept plain JSON.
    ctype = info.content_type if info.protocol == "json" else "application/json"
    return status, [("Content-Type", ctype), *headers], json.dumps(payload).encode()


def _throttle_response(info: _RequestInfo):
    # EC2 throttles with 503 RequestLimitExceeded; the others with 400.  Both codes are in
    # botocore's throttling list, so they get throttling backoff and the cheaper retry cost.
    status = 503 if info.protocol == "ec2" else 400
    return _error_response(
        info,
        status,
        json_code="ThrottlingException",
        query_code="Throttling",
        ec2_code="RequestLimitExceeded",
        fault_type="Sender",
        message="Rate exceeded",
    )


def _server_error_response(info: _RequestInfo, variant: float):
    if variant < 0.5:
        return _error_response(
            info,
            500,
            json_code="InternalFailure",
            query_code="InternalFailure",
            ec2_code="InternalError",
            fault_type="Receiver",
            message="We encountered an internal error. Please try again.",
        )
    return _error_response(
        info,
        503,
        json_code="ServiceUnavailableException",
        query_code="ServiceUnavailable",
        ec2_code="Unavailable",
        fault_type="Receiver",
        message="Service is unavailable. Please try again later.",
    )


def _deny_response(info: _RequestInfo):
    action = f"{info.service}:{info.operation}"
    message = (
        f"User: arn:aws:iam::000000000000:user/{info.access_key} is not authorized to perform: "
        f"{action} in region {info.region} (denied by fault proxy)"
    )
    return _error_response(
        info,
        403,
        json_code="AccessDeniedException",
        query_code="AccessDenied",
        ec2_code="UnauthorizedOperation",
        fault_type="Sender",
        message=message,
    )


class _Tag(NamedTuple):
    """A tagged CBOR item (smithy rpc-v2-cbor sends timestamps as tag 1), kept as it came."""

    tag: int
    value: object


class _Undefined:
    pass


_UNDEFINED = _Undefined()


def _cbor(value: object) -> bytes:
    """CBOR encoder (RFC 8949) for what ``_cbor_decode`` returns: error bodies and re-cut pages."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for add, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | add]) + n.to_bytes(size, "big")
        raise ValueError("integer too large")

    if isinstance(value, bool) or value is None:
        return {False: b"\xf4", True: b"\xf5", None: b"\xf6"}[value]
    if value is _UNDEFINED:
        return b"\xf7"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, str):
        raw = value.encode()
        return head(3, len(raw)) + raw
    if isinstance(value, (bytes, bytearray)):
        return head(2, len(value)) + bytes(value)
    if isinstance(value, _Tag):
        return head(6, value.tag) + _cbor(value.value)
    if isinstance(value, (list, tuple)):
        return head(4, len(value)) + b"".join(_cbor(v) for v in value)
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())
    raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


_BREAK = object()


def _cbor_decode(data: bytes) -> object:
    """CBOR decoder (RFC 8949: every major type, indefinite lengths, half/single/double floats)."""
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise ValueError("truncated CBOR")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def item() -> object:
        ib = take(1)[0]
        major, info = ib >> 5, ib & 31
        if major == 7:
            if info in (20, 21, 22, 23):
                return {20: False, 21: True, 22: None, 23: _UNDEFINED}[info]
            if info == 25:
                return struct.unpack(">e", take(2))[0]
            if info == 26:
                return struct.unpack(">f", take(4))[0]
            if info == 27:
                return struct.unpack(">d", take(8))[0]
            if info == 31:
                return _BREAK
            raise ValueError(f"unsupported CBOR simple value {info}")  # AWS sends none of the others
        if info == 31:  # indefinite length
            parts = []
            while (x := item()) is not _BREAK:
                parts.append(x)
            if major == 2:
                return b"".join(parts)  # type: ignore[arg-type]
            if major == 3:
                return "".join(parts)  # type: ignore[arg-type]
            if major == 4:
                return parts
            if major == 5:
                return dict(zip(parts[0::2], parts[1::2]))
            raise ValueError("invalid indefinite-length CBOR item")
        if info > 27:
            raise ValueError(f"invalid CBOR additional information {info}")
        n = info if info < 24 else int.from_bytes(take({24: 1, 25: 2, 26: 4, 27: 8}[info]), "big")
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major == 2:
            return take(n)
        if major == 3:
            return take(n).decode("utf-8")
        if major == 4:
            return [item() for _ in range(n)]
        if major == 5:
            out = {}
            for _ in range(n):
                k = item()
                out[k] = item()
            return out
        return _Tag(n, item())  # major 6

    value = item()
    if pos != len(data):
        raise ValueError("trailing bytes after CBOR item")
    return value
