"""The fault proxy in front of the moto stand-in, driven by real boto3 clients.

Faults come from the proxy only; botocore runs unpatched, so these tests also pin down that
botocore classifies each injected error shape the way it classifies AWS's.
"""

from __future__ import annotations

import datetime as dt
import http.client
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from moto.server import ThreadedMotoServer

from ecrwise.demo.fault_proxy import FaultProxy

pytestmark = pytest.mark.standin


@pytest.fixture(scope="module")
def upstream() -> str:
    # Local on purpose: the shared stand-in fixtures live in tests/conftest.py.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(service, url, *, region="us-east-1", attempts=10, key="testing", pool=10):
    # total_max_attempts counts the first attempt; botocore reads retries["max_attempts"] as the
    # number of *retries* (max_attempts=1 makes two attempts), which would blur the counts below.
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key="testing",
        config=botocore.config.Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            max_pool_connections=pool,
        ),
    )


def get_metric_data(cw):
    return cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "pulls",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/ECR", "MetricName": "RepositoryPullCount"},
                    "Period": 86400,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        EndTime=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
    )


def proxy_threads():
    return [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]


# -- state survives faults -----------------------------------------------------------------------


def _settings(i: int) -> dict:
    return {
        "imageTagMutability": "IMMUTABLE" if i % 3 == 0 else "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": i % 2 == 0},
    }


def _end_state(ecr, prefix: str) -> dict:
    # moto returns every repository in one page (no pagination in 5.2).
    return {
        r["repositoryName"]: (
            r["imageTagMutability"],
            r["imageScanningConfiguration"]["scanOnPush"],
            r["encryptionConfiguration"]["encryptionType"],
        )
        for r in ecr.describe_repositories()["repositories"]
        if r["repositoryName"].startswith(prefix + "/")
    }


def test_faulty_run_ends_in_same_state_as_clean_run(upstream):
    prefix = f"fp-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}/svc-{i:03d}" for i in range(100)]

    baseline = client("ecr", upstream, region="us-east-2")
    for i, name in enumerate(names):
        baseline.create_repository(repositoryName=name, **_settings(i))
    expected = _end_state(baseline, prefix)

    # Throttling backoff is up to 1 s, then 2 s, 4 s...; faulting only first attempts keeps the
    # slowest call under ~1 s.  First attempts see 30 % throttle + 10 % 5xx + 10 % delay.
    with FaultProxy(
        upstream,
        seed=7,
        throttle_rate=0.3,
        error_rate=0.1,
        delay_rate=0.1,
        delay_seconds=0.05,
        max_faults_per_call=1,
    ) as proxy:
        ecr = client("ecr", proxy.url, region="eu-west-1", pool=32)

        def create_then_describe(i):
            ecr.create_repository(repositoryName=names[i], **_settings(i))
            (repo,) = ecr.describe_repositories(repositoryNames=[names[i]])["repositories"]
            return repo["repositoryName"]

        with ThreadPoolExecutor(32) as pool:
            assert list(pool.map(create_then_describe, range(100))) == names
        stats = proxy.stats()
        got = _end_state(ecr, prefix)

    assert got == expected and len(got) == 100
    faults = stats["faults"]
    assert faults["throttle"] > 30 and faults["error"] > 5 and faults["delay"] > 5, stats
    assert faults["drop"] == faults["deny"] == 0
    # Every request is counted; throttled and 5xx ones are answered by the proxy itself.
    assert stats["requests"] == stats["forwarded"] + faults["throttle"] + faults["error"]
    assert stats["forwarded"] == 200
    ops = stats["operations"]
    assert ops[("ecr", "CreateRepository")] > 100 and ops[("ecr", "DescribeRepositories")] > 100
    assert sum(ops.values()) == stats["requests"]


def test_same_seed_same_faults(upstream):
    def outcomes():
        with FaultProxy(upstream, seed=42, error_rate=0.5) as proxy:
            ecr = client("ecr", proxy.url, attempts=1)
            out = []
            for _ in range(30):
                try:
                    ecr.describe_repositories()
                    out.append("ok")
                except ClientError as e:
                    out.append(e.response["Error"]["Code"])
            return out

    first = outcomes()
    assert first == outcomes()
    assert "ok" in first and {"InternalFailure", "ServiceUnavailableException"} & set(first)


# -- error shapes per protocol -------------------------------------------------------------------

THROTTLE_CASES = [
    # service, call, botocore code, HTTP status (ECS speaks the same JSON 1.1 as ECR)
    pytest.param(
        "ecr", lambda c: c.describe_repositories(), "ThrottlingException", 400, id="ecr-json"
    ),
    # EC2 throttles with 503 RequestLimitExceeded in its own <Response><Errors> shape.
    pytest.param("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded", 503, id="ec2-query"),
    pytest.param("sts", lambda c: c.get_caller_identity(), "Throttling", 400, id="sts-query"),
    # CloudWatch speaks JSON 1.0 with botocore 1.44 but is query-compatible: the
    # x-amzn-query-error header makes the code "Throttling", as from real CloudWatch.
    pytest.param("cloudwatch", get_metric_data, "Throttling", 400, id="cloudwatch-json"),
]


@pytest.mark.parametrize(("service", "call", "code", "status"), THROTTLE_CASES)
def test_throttle_shape_is_recognised_and_retried(upstream, service, call, code, status):
    with FaultProxy(upstream, throttle_rate=1.0) as proxy:
        with pytest.raises(ClientError) as exc:
            call(client(service, proxy.url, attempts=1))
        assert exc.value.response["Error"]["Code"] == code
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert proxy.stats()["requests"] == 1

    # A 400 is only retried when botocore classifies its code as retryable, so succeeding on
    # the second attempt proves the shape is read as throttling, not just as "some error".
    with FaultProxy(upstream, throttle_rate=1.0, max_faults_per_call=1) as proxy:
        call(client(service, proxy.url, attempts=2))
        stats = proxy.stats()
    assert stats["faults"]["throttle"] == 1 and stats["forwarded"] == 1


@pytest.mark.parametrize(
    ("service", "call"),
    [
        pytest.param("ecr", lambda c: c.describe_repositories(), id="ecr-json"),
        pytest.param("ec2", lambda c: c.describe_vpcs(), id="ec2-query"),
        pytest.param("cloudwatch", get_metric_data, id="cloudwatch-json"),
    ],
)
def test_server_errors_are_retried(upstream, service, call):
    with FaultProxy(upstream, error_rate=1.0, max_faults_per_call=3) as proxy:
        call(client(service, proxy.url, attempts=4))
        stats = proxy.stats()
    assert stats["faults"]["error"] == 3 and stats["forwarded"] == 1


# -- access denied --------------------------------------------------------------------------------


def test_denied_region_and_access_key(upstream):
    with FaultProxy(upstream, deny_regions={"us-west-2"}, deny_access_keys={"AKIADENIED"}) as p:
        for service, call, code in [
            ("ecr", lambda c: c.describe_repositories(), "AccessDeniedException"),
            ("ec2", lambda c: c.describe_vpcs(), "UnauthorizedOperation"),
            ("sts", lambda c: c.get_caller_identity(), "AccessDenied"),
            ("cloudwatch", get_metric_data, "AccessDenied"),
        ]:
            with pytest.raises(ClientError) as exc:
                call(client(service, p.url, region="us-west-2"))
            assert exc.value.response["Error"]["Code"] == code
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
            call(client(service, p.url, region="us-east-1"))

        with pytest.raises(ClientError) as exc:
            client("ecr", p.url, key="AKIADENIED").describe_repositories()
        assert exc.value.response["Error"]["Code"] == "AccessDeniedException"

        stats = p.stats()
    # Denials are final: never retried, never forwarded.
    assert stats["faults"]["deny"] == 5
    assert stats["forwarded"] == 4 and stats["requests"] == 9


def test_only_services_limits_faults(upstream):
    with FaultProxy(upstream, throttle_rate=1.0, only_services={"ecr"}) as proxy:
        client("sts", proxy.url, attempts=1).get_caller_identity()
        with pytest.raises(ClientError):
            client("ecr", proxy.url, attempts=1).describe_repositories()
        assert proxy.stats()["faults"]["throttle"] == 1


# -- dropped connections ---------------------------------------------------------------------------


def test_dropped_connections_are_recovered_by_retries(upstream):
    with FaultProxy(upstream, drop_rate=1.0) as proxy:
        with pytest.raises(ConnectionClosedError):
            client("ecr", proxy.url, attempts=1).describe_repositories()

    with FaultProxy(upstream, seed=3, drop_rate=0.5, max_faults_per_call=3) as proxy:
        ecr = client("ecr", proxy.url, pool=8)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: ecr.describe_repositories(), range(40)))
        stats = proxy.stats()
    assert stats["faults"]["drop"] > 5
    assert stats["forwarded"] == 40
    # Each drop closes its connection, so clients had to reconnect.
    assert stats["connections"] > stats["faults"]["drop"]


# -- transport -----------------------------------------------------------------------------------


def test_keep_alive_and_64_concurrent_callers(upstream):
    with FaultProxy(upstream, latency_seconds=0.25) as proxy:
        ecr = client("ecr", proxy.url, pool=64)
        barrier = threading.Barrier(64)

        def caller(_):
            barrier.wait()
            for _ in range(2):
                ecr.describe_repositories()

        start = time.monotonic()
        with ThreadPoolExecutor(64) as pool:
            list(pool.map(caller, range(64)))
        elapsed = time.monotonic() - start
        stats = proxy.stats()
    assert stats["requests"] == stats["forwarded"] == 128
    # Served concurrently (serially 128 x 250 ms = 32 s) over reused connections.
    assert elapsed < 4, elapsed
    assert stats["connections"] <= 64


def test_relays_get_head_and_bodies_verbatim(upstream):
    host, port = upstream.removeprefix("http://").split(":")
    direct = http.client.HTTPConnection(host, int(port), timeout=5)
    direct.request("GET", "/moto-api/")  # moto's dashboard: static HTML, Connection: close
    want = direct.getresponse()
    want_body = want.read()
    direct.close()
    assert want.status == 200 and len(want_body) > 1000

    with FaultProxy(upstream) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]), timeout=5)
        # Several requests on one kept-alive client connection, although upstream closes its
        # connection after each answer.
        for _ in range(3):
            conn.request("GET", "/moto-api/")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == want_body
            assert resp.getheader("Content-Type") == want.getheader("Content-Type")
            assert resp.getheader("Connection") is None
        conn.request("HEAD", "/moto-api/")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
        assert resp.getheader("Content-Length") == str(len(want_body))
        conn.request("GET", "/no-such-path")
        resp = conn.getresponse()
        assert resp.status == 404 and resp.read()
        # A chunked request body reaches upstream whole (moto's ECR answers in JSON 1.1).
        conn.putrequest("POST", "/", skip_accept_encoding=True)
        conn.putheader("Content-Type", "application/x-amz-json-1.1")
        conn.putheader("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRegistry")
        conn.putheader(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecr/aws4_request, "
            "SignedHeaders=host, Signature=0",
        )
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        conn.send(b"1\r\n{\r\n1\r\n}\r\n0\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 200 and b"registryId" in resp.read()
        conn.close()
        assert proxy.stats()["connections"] == 1
        assert proxy.stats()["operations"][("ecr", "DescribeRegistry")] == 1

        proxy.reset_stats()
        assert proxy.stats()["requests"] == 0


def test_stop_is_prompt_with_idle_and_in_flight_connections(upstream):
    before = set(proxy_threads())  # other proxies (shared fixtures) may be running
    proxy = FaultProxy(upstream, delay_rate=1.0, delay_seconds=30, only_services={"sts"})
    proxy.start()
    ecr = client("ecr", proxy.url, pool=4)
    for _ in range(4):
        ecr.describe_repositories()  # leaves idle keep-alive connections in the pool

    errors = []

    def stalled():
        try:
            client("sts", proxy.url, attempts=1).get_caller_identity()
        except Exception as exc:  # the proxy going away mid-request is the point
            errors.append(exc)

    t = threading.Thread(target=stalled)
    t.start()
    deadline = time.monotonic() + 5
    while proxy.stats()["faults"]["delay"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.stats()["faults"]["delay"] == 1

    start = time.monotonic()
    proxy.stop()
    assert time.monotonic() - start < 2
    assert set(proxy_threads()) <= before
    t.join(5)
    assert not t.is_alive() and errors
    proxy.stop()  # idempotent
