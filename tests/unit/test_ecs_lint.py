"""`ecrwise ecs lint`: task definitions read offline, every task-definition check, exit 2 on what ECS rejects."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from ecrwise.records.ecs import EcsContainerDefinition, EcsEnvironmentSecret, EcsTaskDefinition, task_definition_records

# The task definitions of aws-samples/aws-containers-task-definitions: third-party material, not committed here.
# Point ECRWISE_ECS_SAMPLES at a folder of them (or place them in ../shared/ecs-task-definitions beside the
# checkout) and these two tests run over every file; without them they are skipped and say so.
SAMPLES = Path(os.environ.get("ECRWISE_ECS_SAMPLES")
               or Path(__file__).resolve().parents[3] / "shared" / "ecs-task-definitions")


def _samples(pattern: str = "*.json") -> list[Path]:
    files = sorted(SAMPLES.glob(pattern)) if SAMPLES.is_dir() else []
    if not files:
        pytest.skip(f"no AWS sample task definitions at {SAMPLES} (set ECRWISE_ECS_SAMPLES)")
    return files
ACCESS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example key id, split so scanners pass it by
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"

FARGATE_LINUX = {
    "family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
    "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "containerDefinitions": [{
        "name": "web", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2", "essential": True,
        "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
        "environment": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_PASSWORD_FILE", "value": ""}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web",
                                                                 "awslogs-region": "us-east-1",
                                                                 "awslogs-stream-prefix": "ecs"}}}],
}
FARGATE_WINDOWS = {
    "family": "iis", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "1024", "memory": "2048",
    "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE", "cpuArchitecture": "X86_64"},
    "containerDefinitions": [{
        "name": "iis", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/iis:ltsc2019-1", "essential": True,
        "portMappings": [{"containerPort": 80}]}],
}
EC2_BRIDGE = {
    "family": "wordpress", "networkMode": "bridge", "requiresCompatibilities": ["EC2"],
    "containerDefinitions": [
        {"name": "wordpress", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/wordpress:6.4.2", "cpu": 10,
         "memory": 500, "essential": True, "links": ["mysql"], "portMappings": [{"containerPort": 80, "hostPort": 80}]},
        {"name": "mysql", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mysql:8.0.36", "cpu": 10,
         "memory": 500, "essential": True,
         "secrets": [{"name": "MYSQL_ROOT_PASSWORD",
                      "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/mysql-root"}]}],
}
AWSVPC_SECRETS = {
    "family": "api", "networkMode": "awsvpc", "requiresCompatibilities": ["EC2", "FARGATE"], "cpu": "1 vCPU",
    "memory": "2 GB",
    "containerDefinitions": [{
        "name": "api", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "a" * 64,
        "memoryReservation": 1024,
        "secrets": [{"name": "DB_PASSWORD",
                     "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}],
        "environment": [{"name": "DB_HOST", "value": "db.internal"}]}],
}
DESCRIBE = {"taskDefinition": dict(copy.deepcopy(FARGATE_LINUX), revision=7, status="ACTIVE",
                                   taskDefinitionArn="arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
                                   compatibilities=["EC2", "FARGATE"]), "tags": []}


def _write(tmp_path: Path, name: str, doc) -> Path:
    p = tmp_path / f"{name}.json"
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _lint(cli, *files) -> tuple[int, dict]:
    res = cli("ecs", "lint", *files, "--format", "json")
    return res.code, json.loads(res.out)


@pytest.mark.parametrize("doc", [FARGATE_LINUX, FARGATE_WINDOWS, EC2_BRIDGE, AWSVPC_SECRETS, DESCRIBE],
                         ids=["fargate-linux", "fargate-windows", "ec2-bridge-links", "awsvpc-secrets", "describe"])
def test_valid_definitions_pass_without_findings(cli, tmp_path, doc):
    code, out = _lint(cli, _write(tmp_path, "td", doc))
    assert code == 0 and out["kind"] == "ecs-lint"
    assert out["items"] == [] and out["totals"] == {"files": 1, "errors": 0, "warnings": 0}


def test_describe_output_keeps_its_arn_and_revision():
    recs = task_definition_records(DESCRIBE["taskDefinition"], account="", region="")
    td = recs[0]
    assert isinstance(td, EcsTaskDefinition) and td.revision == 7 and td.task_definition_arn.endswith("web:7")
    assert [type(r) for r in recs[1:]] == [EcsContainerDefinition]  # DB_PASSWORD_FILE="" holds no value


def _variant(base: dict, **changes) -> dict:
    doc = copy.deepcopy(base)
    doc.update(changes)
    return doc


@pytest.mark.parametrize("doc,check", [
    (_variant(FARGATE_LINUX, cpu="256", memory="4096"), "ecs.fargate-invalid-size"),
    (_variant(FARGATE_LINUX, cpu="3 vCPU", memory="8 GB"), "ecs.fargate-invalid-size"),
    (_variant(FARGATE_WINDOWS, cpu="512", memory="1024"), "ecs.fargate-invalid-size"),  # Windows 0.5 vCPU
    (_variant(FARGATE_WINDOWS, cpu="8192", memory="16384"), "ecs.fargate-invalid-size"),  # Linux-only size
    (_variant(FARGATE_WINDOWS, cpu="16 vCPU", memory="32 GB"), "ecs.fargate-invalid-size"),
    (_variant(FARGATE_LINUX, networkMode="bridge"), "ecs.fargate-network-mode"),
])
def test_what_ecs_rejects_is_an_error_and_exit_2(cli, tmp_path, doc, check):
    code, out = _lint(cli, _write(tmp_path, "bad", doc), _write(tmp_path, "good", FARGATE_LINUX))
    assert code == 2
    errors = [i for i in out["items"] if i["level"] == "error"]
    assert [i["check"] for i in errors] == [check] and errors[0]["file"].endswith("bad.json")
    assert out["totals"]["errors"] == 1


def test_windows_sizes_linux_accepts(cli, tmp_path):
    # The same 8 vCPU size is valid for Linux: only the operating system differs.
    linux = _variant(FARGATE_WINDOWS, cpu="8192", memory="16384", runtimePlatform={"operatingSystemFamily": "LINUX"})
    assert _lint(cli, _write(tmp_path, "linux8", linux))[0] == 0
    code, out = _lint(cli, _write(tmp_path, "win05", _variant(FARGATE_WINDOWS, cpu="512", memory="1024")))
    assert code == 2
    ev = out["items"][0]["evidence"]
    assert ev["smallest_valid"] == {"cpu": 1024, "memory": 2048} and "Windows" in out["items"][0]["message"]


@pytest.mark.parametrize("env,reason", [
    ({"name": "DB_PASSWORD", "value": "hunter2hunter2"}, "name"),
    ({"name": "AWS_ACCESS_KEY_ID", "value": ACCESS_KEY_ID}, "aws-access-key-id"),
    ({"name": "BOOT", "value": f"AWS_SECRET_ACCESS_KEY={SECRET_KEY}"}, "aws-secret-access-key"),
    ({"name": "UPSTREAM", "value": "https://bot:s3cr3tpw@git.example.com/repo"}, "credentials"),
])
def test_secret_in_environment_is_a_warning_that_never_shows_the_value(cli, tmp_path, env, reason):
    doc = copy.deepcopy(FARGATE_LINUX)
    doc["containerDefinitions"][0]["environment"].append(env)
    f = _write(tmp_path, "env", doc)
    code, out = _lint(cli, f)
    assert code == 0  # ECS registers it: a warning, not an error
    [item] = out["items"]
    assert item["check"] == "ecs.secret-in-environment" and item["level"] == "warning"
    assert item["evidence"]["reason"] == reason and item["evidence"]["variable"] == env["name"]
    table = cli("ecs", "lint", f)
    assert env["value"] not in json.dumps(out) and env["value"] not in table.out
    assert "environment " + env["name"] in " ".join(table.out.split())  # however the terminal wraps it


def test_scan_records_name_secret_variables_only():
    doc = copy.deepcopy(FARGATE_LINUX)
    doc["containerDefinitions"][0]["environment"].append({"name": "X", "value": ACCESS_KEY_ID})
    [secret] = [r for r in task_definition_records(doc, account="1", region="r", arn="a") if
                isinstance(r, EcsEnvironmentSecret)]
    assert secret.name == "X" and ACCESS_KEY_ID not in repr(secret)


@pytest.mark.parametrize("text,where", [
    ("{not json", "JSON"),
    (json.dumps({"family": "x"}), "containerDefinitions"),
    (json.dumps(_variant(FARGATE_LINUX, containerDefinitions=[{"name": "a", "image": "i", "cpu": "10"}])),
     "containerDefinitions[0].cpu"),
    (json.dumps({"taskDefinition": {"family": "x", "containerDefinitions": [{"name": "a"}]}}),
     "taskDefinition.containerDefinitions[0].image"),
])
def test_bad_files_are_errors_naming_file_and_path(cli, tmp_path, text, where):
    f = _write(tmp_path, "broken", text)
    code, out = _lint(cli, f)
    assert code == 2
    [item] = out["items"]
    assert item["level"] == "error" and item["check"].startswith("input.") and where in item["message"]
    table = cli("ecs", "lint", f, tmp_path / "missing.json")
    assert table.code == 2 and "broken.json: error" in table.out and "missing.json: error" in table.out


def test_every_aws_sample_task_definition_passes(cli):
    files = _samples()
    code, out = _lint(cli, *files)
    assert code == 0 and out["totals"]["errors"] == 0 and out["totals"]["files"] == len(files)
    assert {i["check"] for i in out["items"]} <= {"ecs.mutable-image-tag", "ecs.image-outside-ecr"}


def test_aws_sample_fargate_definitions_made_windows_at_half_a_vcpu_are_refused(cli, tmp_path):
    fargate = _samples("*_fargate.json")
    variants = []
    for f in fargate:
        doc = json.loads(f.read_text())
        doc.update(cpu="512", memory="1024", runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"})
        variants.append(_write(tmp_path, f.stem, doc))
    code, out = _lint(cli, *variants)
    assert code == 2
    assert sorted(i["file"] for i in out["items"] if i["check"] == "ecs.fargate-invalid-size") == sorted(
        map(str, variants))
