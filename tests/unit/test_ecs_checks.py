"""The ECS audits, each both ways; Fargate's whole CPU/memory table; the agent configuration's redaction."""
from __future__ import annotations

import base64
import gzip
import json
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from ecrwise.analysis import ecs_checks as C
from ecrwise.analysis.checks import REGISTRY, Records
from ecrwise.pricing.book import load_price_book
from ecrwise.records.ecr import Repository
from ecrwise.records.ecs import (REDACTED, Ec2Instance, EcsAgentConfig, EcsContainerDefinition, EcsContainerInstance,
                                 EcsService, EcsServiceEvent, EcsTask, EcsTaskDefinition, decode_user_data,
                                 parse_agent_config)

A, R = "111111111111", "us-east-1"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
BOOK = load_price_book()
REG = f"{A}.dkr.ecr.{R}.amazonaws.com"
CLUSTER = f"arn:aws:ecs:{R}:{A}:cluster/prod"
SECRET = "hunter2-not-a-real-password-9c0ffee"
AUTH = json.dumps({"https://index.docker.io/v1/": {"username": "bot", "password": SECRET, "email": "b@example.com"}})


def records(*items) -> Records:
    by: dict[type, list] = {}
    for r in items:
        by.setdefault(type(r), []).append(r)
    return Records(by)


def run(check_id: str, recs: Records, **options):
    return list(REGISTRY[check_id].run(recs, BOOK, {"now": NOW, **options}))


def service(name="api", *, desired=2, cb=(True, True), controller="ECS", strategy="REPLICA", launch="FARGATE",
            td="arn:td/api:1") -> EcsService:
    return EcsService(A, R, CLUSTER, "prod", f"arn:aws:ecs:{R}:{A}:service/prod/{name}", name, "ACTIVE", launch, [],
                      strategy, desired, desired, 0, td, controller, cb[0], cb[1], 100, 200)


def td(arn="arn:td/api:1", *, cpu="1024", memory="2048", fargate=True, mode="awsvpc", containers=1) -> EcsTaskDefinition:
    return EcsTaskDefinition(A, R, arn, arn.rsplit("/", 1)[-1].split(":")[0], 1, "ACTIVE", mode,
                             ["FARGATE"] if fargate else ["EC2"], ["EC2", "FARGATE"] if fargate else ["EC2"], cpu,
                             memory, container_count=containers)


def container(image=f"{REG}/api:v1.2.3", *, name="app", cpu=None, memory=None, reservation=None,
              tdarn="arn:td/api:1") -> EcsContainerDefinition:
    return EcsContainerDefinition(A, R, tdarn, name, image, cpu, memory, reservation, True)


# -- Fargate's CPU/memory table ---------------------------------------------------------------------------

# Transcribed from the AWS docs ("Task CPU and memory", Fargate), in the docs' own units (GB ranges).
DOC_TABLE = {
    256: [512, 1024, 2048],
    512: [g * 1024 for g in range(1, 5)],
    1024: [g * 1024 for g in range(2, 9)],
    2048: [g * 1024 for g in range(4, 17)],
    4096: [g * 1024 for g in range(8, 31)],
    8192: [g * 1024 for g in range(16, 61, 4)],
    16384: [g * 1024 for g in range(32, 121, 8)],
}


def test_fargate_table_matches_the_docs_pair_by_pair():
    valid = 0
    for cpu in (128, 256, 384, 512, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 32768):
        for mem in range(256, 131072 + 1, 256):
            expected = mem in DOC_TABLE.get(cpu, [])
            assert C.fargate_size_valid(cpu, mem) is expected, (cpu, mem)
            valid += expected
    assert valid == 3 + 4 + 7 + 13 + 23 + 12 + 12


@pytest.mark.parametrize("cpu,memory,ok", [
    ("256", "512", True), ("256", "4096", False), ("512", "1024", True), ("512", "5120", False),
    ("1024", "1024", False), ("1 vCPU", "2 GB", True), ("2048", "16384", True), ("2048", "17408", False),
    ("4096", "30720", True), ("4096", "31744", False), ("8192", "16384", True), ("8192", "17408", False),
    ("8192", "61440", True), ("16384", "32768", True), ("16384", "36864", False), ("16384", "122880", True),
    ("0.25 vCPU", "0.5GB", True), (None, "512", False), ("1024", None, False),
])
def test_fargate_invalid_size_check(cpu, memory, ok):
    found = run("ecs.fargate-invalid-size", records(td(cpu=cpu, memory=memory)))
    assert (not found) is ok
    if not ok:
        assert found[0].severity == "high"


def test_fargate_size_applies_to_definitions_a_fargate_service_runs():
    ec2_only = td(cpu="1024", memory="1024", fargate=False)
    assert not run("ecs.fargate-invalid-size", records(ec2_only))
    assert run("ecs.fargate-invalid-size", records(ec2_only, service(launch="FARGATE")))


def test_parse_cpu_memory_and_smallest_size():
    assert [C.parse_cpu(v) for v in ("1024", 512, "1 vCPU", ".25 vcpu", "2 vcpus", "x", None)] == \
        [1024, 512, 1024, 256, 2048, None, None]
    assert [C.parse_memory(v) for v in ("2048", "2GB", "0.5 gb", "nope", None)] == [2048, 2048, 512, None, None]
    assert C.smallest_fargate_size(300, 900) == (512, 1024)
    assert C.smallest_fargate_size(1024, 9000) == (2048, 9216)
    assert C.smallest_fargate_size(20000, 1024) is None


# -- services ---------------------------------------------------------------------------------------------

def test_circuit_breaker_off_and_without_rollback():
    assert [f.check for f in run("ecs.circuit-breaker-off", records(service(cb=(False, False))))] == \
        ["ecs.circuit-breaker-off"]
    none_reported = run("ecs.circuit-breaker-off", records(service(cb=(None, None))))
    assert "not reported" in none_reported[0].message
    assert not run("ecs.circuit-breaker-off", records(service(cb=(True, False))))
    assert not run("ecs.circuit-breaker-off", records(service(cb=(False, False), controller="CODE_DEPLOY")))
    f = run("ecs.circuit-breaker-no-rollback", records(service(cb=(True, False))))
    assert len(f) == 1 and f[0].fix.startswith("ecrwise ecs fix circuit-breaker --service arn:aws:ecs:")
    assert not run("ecs.circuit-breaker-no-rollback", records(service(cb=(True, True))))
    assert not run("ecs.circuit-breaker-no-rollback", records(service(cb=(False, False))))


def test_single_replica():
    assert run("ecs.single-replica", records(service(desired=1)))
    assert not run("ecs.single-replica", records(service(desired=2)))
    assert not run("ecs.single-replica", records(service(desired=1, strategy="DAEMON")))


# -- task definitions --------------------------------------------------------------------------------------

def test_container_limits():
    t = td(cpu="512", memory="1024")
    assert not run("ecs.container-limits", records(t, container(cpu=256, memory=512), container(name="b", reservation=512)))
    over = run("ecs.container-limits", records(t, container(memory=2048)))
    assert "memory 2048 MiB > task memory 1024 MiB" in over[0].message
    assert run("ecs.container-limits", records(t, container(reservation=600), container(name="b", reservation=600)))
    assert "cpu 768 units > task cpu 512" in run("ecs.container-limits",
                                                 records(t, container(cpu=512), container(name="b", cpu=256)))[0].message
    assert not run("ecs.container-limits", records(td(cpu=None, memory=None, fargate=False), container(memory=4096)))


def test_too_many_containers():
    assert run("ecs.too-many-containers", records(td(containers=11)))
    assert not run("ecs.too-many-containers", records(td(containers=10)))


def test_fargate_network_mode():
    assert run("ecs.fargate-network-mode", records(td(mode="bridge")))
    assert not run("ecs.fargate-network-mode", records(td(mode="awsvpc")))
    assert not run("ecs.fargate-network-mode", records(td(mode="bridge", fargate=False)))


@pytest.mark.parametrize("image,flagged", [
    (f"{REG}/api:latest", True), (f"{REG}/api", True), ("nginx", True), (f"{REG}/api:stable", True),
    (f"{REG}/api:v1.2.3", False), (f"{REG}/api@sha256:{'b' * 64}", False), (f"{REG}/api:3f2a9c1", False),
])
def test_mutable_image_tag(image, flagged):
    recs = records(td(), container(image), service(), Repository(A, R, "api", "arn", "uri", NOW, "MUTABLE", False, "AES256"))
    found = run("ecs.mutable-image-tag", recs)
    assert bool(found) is flagged
    if found and image.startswith(REG):
        assert found[0].evidence["repository_tag_mutability"] == "MUTABLE"


@pytest.mark.parametrize("image,registry", [
    ("nginx:1.27", "docker.io"), ("docker.io/library/nginx:1.27", "docker.io"), ("ghcr.io/org/tool:1", "ghcr.io"),
    ("public.ecr.aws/nginx/nginx:1", "public.ecr.aws"), (f"{REG}/api:v1", None),
])
def test_image_outside_ecr(image, registry):
    found = run("ecs.image-outside-ecr", records(td(), container(image), service()))
    assert (found[0].evidence["registry"] if found else None) == registry
    if found:
        assert found[0].fix.startswith("aws ecr create-pull-through-cache-rule")


# -- hosts and the agent -------------------------------------------------------------------------------------

def host_records(connected: bool, state: str):
    ci = EcsContainerInstance(A, R, CLUSTER, f"arn:aws:ecs:{R}:{A}:container-instance/prod/abc", "i-1", "ACTIVE",
                              connected, 0, 0, "1.80", "m5.large", f"{R}a", NOW)
    inst = Ec2Instance(A, R, "i-1", state, "m5.large", "subnet-1", "vpc-1", f"{R}a", None, None, None, NOW)
    return records(ci, inst)


@pytest.mark.parametrize("connected,state,flagged", [
    (False, "terminated", True), (False, "stopped", True), (True, "terminated", False), (False, "running", False),
    (True, "running", False),
])
def test_container_instance_left_behind(connected, state, flagged):
    found = run("ecs.container-instance-left-behind", host_records(connected, state))
    assert bool(found) is flagged
    if found:
        assert found[0].fix == (f"aws ecs deregister-container-instance --cluster prod --container-instance "
                                f"arn:aws:ecs:{R}:{A}:container-instance/prod/abc --force --region {R}")


def cfg(settings: dict[str, str], redacted=(), source_id="i-1") -> EcsAgentConfig:
    return EcsAgentConfig(A, R, "instance-user-data", source_id, settings, list(redacted), True, [source_id])


def test_agent_auth_data_is_critical_and_never_carries_the_value():
    settings, redacted, _ = parse_agent_config(f"ECS_CLUSTER=prod\nECS_ENGINE_AUTH_TYPE=docker\n"
                                               f"ECS_ENGINE_AUTH_DATA={AUTH}\n")
    found = run("ecs.agent-auth-data-plaintext", records(cfg(settings, redacted)))
    assert len(found) == 1 and found[0].severity == "critical"
    assert SECRET not in json.dumps([f.__dict__ for f in found], default=str)
    assert found[0].evidence["keys"] == ["ECS_ENGINE_AUTH_DATA"] and found[0].evidence["value"] == REDACTED
    assert not run("ecs.agent-auth-data-plaintext", records(cfg({"ECS_CLUSTER": "prod"})))


def test_agent_missing_cluster():
    assert run("ecs.agent-missing-cluster", records(cfg({"ECS_IMAGE_PULL_BEHAVIOR": "once"})))
    assert run("ecs.agent-missing-cluster", records(cfg({"ECS_CLUSTER": "  "})))
    assert not run("ecs.agent-missing-cluster", records(cfg({"ECS_CLUSTER": "prod"})))


def looping_ec2(behavior: str) -> Records:
    svc = service("worker", desired=1, launch="EC2", td="arn:td/worker:1")
    ci = EcsContainerInstance(A, R, CLUSTER, "arn:ci/1", "i-1", "ACTIVE", True, 1, 0, "1.80", "m5.large", f"{R}a", NOW)
    inst = Ec2Instance(A, R, "i-1", "running", "m5.large", "subnet-1", "vpc-1", f"{R}a", None, None, None, NOW)
    t = EcsTask(A, R, CLUSTER, "arn:task/1", "arn:td/worker:1", "service:worker", None, "EC2", None, "RUNNING",
                "RUNNING", NOW - timedelta(minutes=3), None, None, None, None, None, None, None, "arn:ci/1", None, None)
    events = [EcsServiceEvent(A, R, svc.service_arn, str(k), NOW - timedelta(minutes=10 * k + 1),
                              "(service worker) has started 1 tasks: (task x).") for k in range(100)]
    return records(svc, ci, inst, t, td("arn:td/worker:1", fargate=False, mode="bridge"),
                   container(tdarn="arn:td/worker:1", memory=512), cfg({"ECS_CLUSTER": "prod", "ECS_IMAGE_PULL_BEHAVIOR": behavior}),
                   *events)


@pytest.mark.parametrize("behavior,severity", [("always", "low"), ("default", "low"), ("prefer-cached", None),
                                               ("once", None), ("sometimes", "medium")])
def test_agent_pull_behavior(behavior, severity):
    found = run("ecs.agent-pull-behavior", looping_ec2(behavior))
    assert (found[0].severity if found else None) == severity
    # `default` is only worth a finding where a crash-looping service restarts on the host.
    quiet = records(cfg({"ECS_CLUSTER": "prod", "ECS_IMAGE_PULL_BEHAVIOR": behavior}))
    assert bool(run("ecs.agent-pull-behavior", quiet)) is (behavior in ("always", "sometimes"))


def test_crash_loop_check_uses_the_pull_analysis_and_its_threshold():
    recs = looping_ec2("default")  # ~144 starts a day for 1 desired task
    found = run("ecs.crash-loop", recs)
    assert len(found) == 1 and found[0].evidence["starts_evidence"] == "service-events"
    assert found[0].evidence["task_starts_per_day"] == pytest.approx(100 / ((10 * 99 + 1) / 1440), rel=1e-3)
    assert not run("ecs.crash-loop", looping_ec2("default"), **{"ecs.crash_loop_threshold": 1000})
    off = run("ecs.circuit-breaker-off", records(*[r for cls in (EcsService,) for r in recs.of(cls)]))
    assert not off  # the breaker is on in this fixture
    assert run("ecs.circuit-breaker-off", records(service(cb=(False, False))))[0].severity == "medium"


def test_fargate_vs_ec2_arithmetic():
    found = run("ecs.fargate-vs-ec2", records(service(desired=2), td(cpu="1024", memory="2048")))
    (f,) = found
    h = BOOK.hours_per_month
    fargate = 2 * (1 * BOOK.price(R, "fargate_vcpu_hour").usd + 2 * BOOK.price(R, "fargate_gb_hour").usd) * h
    ec2 = 2 * 0.5 * BOOK.price(R, "ec2_m5_large_hour").usd * h  # 1 vCPU of 2; 2 GiB of 8: the CPU share rules
    assert f.evidence["fargate_usd"] == pytest.approx(fargate, abs=0.01)
    assert f.evidence["ec2_usd"] == pytest.approx(ec2, abs=0.01)
    assert f.severity == "info" and f.monthly_cost_usd == pytest.approx(fargate)
    # An EC2 task without task-level sizes is priced from its containers, on the smallest Fargate size that fits.
    (g,) = run("ecs.fargate-vs-ec2", records(service(launch="EC2", desired=1, td="arn:td/w:1"),
                                             td("arn:td/w:1", cpu=None, memory=None, fargate=False, mode="bridge"),
                                             container(tdarn="arn:td/w:1", cpu=300, memory=1500)))
    assert g.evidence["fargate_size"] == {"cpu": 512, "memory": 2048}


# -- redaction --------------------------------------------------------------------------------------------

HEREDOC = f"""#!/bin/bash
cat <<'EOF' >> /etc/ecs/ecs.config
ECS_CLUSTER=prod
ECS_ENGINE_AUTH_TYPE=docker
ECS_ENGINE_AUTH_DATA={AUTH}
ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
EOF
"""


@pytest.mark.parametrize("text", [
    HEREDOC,
    f"#!/bin/bash\necho 'ECS_ENGINE_AUTH_DATA={AUTH}' >> /etc/ecs/ecs.config\necho \"ECS_CLUSTER=prod\" >> /etc/ecs/ecs.config\n",
    f"ECS_CLUSTER=prod\nECS_ENGINE_AUTH_DATA={AUTH}\n",
    f"#!/bin/bash\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config\nexport ECS_ENGINE_AUTH_DATA='{AUTH}'\n",
])
def test_parse_agent_config_redacts_the_secret(text):
    settings, redacted, _ = parse_agent_config(text)
    assert settings["ECS_CLUSTER"] == "prod"
    assert settings["ECS_ENGINE_AUTH_DATA"] == REDACTED and redacted == ["ECS_ENGINE_AUTH_DATA"]
    assert SECRET not in json.dumps(settings) + json.dumps(redacted)


def test_redaction_by_key_and_by_value_keeps_harmless_settings():
    text = ("ECS_ENGINE_AUTH_TYPE=docker\nECS_REGISTRY_PASSWORD=abc\nECS_SOME_TOKEN=t\n"
            'ECS_CUSTOM={"auth":"Ym90OnNlY3JldA=="}\nECS_PROXY=https://user:pw@proxy:3128\n'
            "ECS_LOGLEVEL=debug\nECS_ENGINE_AUTH_TYPE_X=1\n")
    settings, redacted, _ = parse_agent_config(text)
    assert settings["ECS_ENGINE_AUTH_TYPE"] == "docker" and settings["ECS_LOGLEVEL"] == "debug"
    assert set(redacted) == {"ECS_REGISTRY_PASSWORD", "ECS_SOME_TOKEN", "ECS_CUSTOM", "ECS_PROXY",
                             "ECS_ENGINE_AUTH_TYPE_X"}
    # ECS_ENGINE_AUTH_TYPE names a format, never a secret: kept whatever it says, unless it holds a credential.
    assert parse_agent_config("ECS_ENGINE_AUTH_TYPE=dockerconfig\n")[0]["ECS_ENGINE_AUTH_TYPE"] == "dockerconfig"
    odd_type = parse_agent_config('ECS_ENGINE_AUTH_TYPE={"https://r.example.com":{"auth":"Ym90OnM="}}\n')[0]
    assert odd_type["ECS_ENGINE_AUTH_TYPE"] == REDACTED


def test_decode_user_data_base64_and_gzip():
    raw = HEREDOC.encode()
    assert decode_user_data(base64.b64encode(raw).decode()) == HEREDOC
    assert decode_user_data(base64.b64encode(gzip.compress(raw))) == HEREDOC
    assert decode_user_data(HEREDOC) == HEREDOC
    assert decode_user_data(None) == ""


def test_agent_config_command_never_prints_the_secret(cli, tmp_path):
    f = tmp_path / "ecs.config"
    f.write_text(HEREDOC)
    outs = []
    for fmt in ("table", "json", "csv"):
        res = cli("ecs", "agent-config", str(f), "--format", fmt)
        assert res.code == 0, res.err
        outs.append(res.out + res.err)
        assert SECRET not in res.out and SECRET not in res.err
        assert "ECS_ENGINE_AUTH_DATA" in res.out
    doc = json.loads(outs[1])
    assert doc["kind"] == "ecs-agent-config" and doc["totals"]["settings"]["ECS_ENGINE_AUTH_DATA"] == REDACTED
    assert {i["check"] for i in doc["items"]} == {"ecs.agent-auth-data-plaintext"}
    assert cli("ecs", "agent-config", str(f), "--fail-on", "critical").code == 1
    b64 = tmp_path / "user-data.b64"
    b64.write_text(base64.b64encode(HEREDOC.replace("ECS_CLUSTER=prod\n", "").encode()).decode())
    res = cli("ecs", "agent-config", str(b64), "--format", "json")
    assert SECRET not in res.out and {"ecs.agent-auth-data-plaintext", "ecs.agent-missing-cluster"} <= {
        i["check"] for i in json.loads(res.out)["items"]}
    empty = tmp_path / "empty"
    empty.write_text("#!/bin/bash\necho hi\n")
    res = cli("ecs", "agent-config", str(empty))
    assert res.code == 2 and "no ECS agent settings" in res.err
    assert cli("ecs", "agent-config", str(tmp_path / "missing")).code == 2


def test_user_data_snippet(cli):
    img = f"{REG}/api@sha256:{'c' * 64}"
    res = cli("ecs", "user-data", "--image", img, "--image", "nginx:1.27", "--cluster", "prod")
    assert res.code == 0, res.err
    out = res.out
    assert "ECS_IMAGE_PULL_BEHAVIOR=prefer-cached" in out and "ECS_CLUSTER=prod" in out
    assert f"docker login --username AWS --password-stdin {REG}" in out
    assert f"docker pull '{img}'" in out and "docker pull 'nginx:1.27'" in out
    assert out.count("docker login") == 1  # one login per registry, none for Docker Hub
    assert subprocess.run(["bash", "-n"], input=out, text=True).returncode == 0
    assert "ECS_IMAGE_PULL_BEHAVIOR=once" in cli("ecs", "user-data", "--pull-behavior", "once").out
    assert cli("ecs", "user-data", "--pull-behavior", "never").code == 2
    assert cli("ecs", "user-data", "--image", "x; rm -rf /").code == 2
    assert cli("ecs", "user-data", "--cluster", "a b").code == 2


def test_every_ecs_check_is_registered_with_docs_and_recommendation():
    ecs = {k: c for k, c in REGISTRY.items() if c.family == "ecs"}
    assert set(ecs) == {
        "ecs.circuit-breaker-off", "ecs.circuit-breaker-no-rollback", "ecs.single-replica", "ecs.fargate-invalid-size",
        "ecs.container-limits", "ecs.too-many-containers", "ecs.fargate-network-mode", "ecs.mutable-image-tag",
        "ecs.image-outside-ecr", "ecs.container-instance-left-behind", "ecs.agent-auth-data-plaintext",
        "ecs.agent-missing-cluster", "ecs.agent-pull-behavior", "ecs.crash-loop", "ecs.fargate-vs-ec2",
        "ecs.secret-in-environment"}
    for c in ecs.values():
        assert c.docs.startswith("docs/ecs.md#") and c.recommendation and c.title
