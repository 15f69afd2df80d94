"""Agent configuration in user data and ecs.config: AWS keys and other credentials flagged and redacted, plain
ecs.config files not called user data, shell variables reported as unresolved, format keys not redacted."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ecrwise.analysis.checks import REGISTRY, CheckSession
from ecrwise.pricing.book import load_price_book
from ecrwise.records import Records
from ecrwise.records.ecs import REDACTED, EcsAgentConfig, is_plain_config, parse_agent_config

# AWS's documented example keys (STS GetAccessKeyInfo), split so that secret scanners let the file be.
KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
TEMP_KEY_ID = "ASIA" + "IOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"


BOOK = load_price_book(None)
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _run(check_id: str, cfg: EcsAgentConfig):
    return list(CheckSession(Records({EcsAgentConfig: [cfg]}), BOOK, {"now": NOW}).run(REGISTRY[check_id]))


def _cfg(text: str, source: str = "instance-user-data") -> EcsAgentConfig:
    settings, redacted, writes = parse_agent_config(text)
    return EcsAgentConfig("1", "r", source, "i-1", settings, redacted, writes, ["i-1"])


@pytest.mark.parametrize("text,key", [
    (f"ECS_CLUSTER=prod\nAWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\n", "AWS_SECRET_ACCESS_KEY"),
    (f"#!/bin/bash\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config\nexport AWS_ACCESS_KEY_ID={TEMP_KEY_ID}\n",
     "AWS_ACCESS_KEY_ID"),
    (f"#!/bin/bash\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config\naws configure set aws_secret_access_key {SECRET_KEY}\n",
     "credential (line 3)"),
    (f"#!/bin/bash\n# old key: {KEY_ID}\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config\n", "credential (line 2)"),
    (f"#!/bin/bash\ncurl -H 'X: AWS_SECRET_ACCESS_KEY={SECRET_KEY}' https://x\necho ECS_CLUSTER=prod >> /etc/ecs/ecs.config\n",
     "credential (line 2)"),
])
def test_aws_keys_anywhere_are_flagged_like_auth_data_and_redacted(text, key):
    cfg = _cfg(text)
    assert key in cfg.redacted and cfg.settings[key] == REDACTED
    blob = json.dumps([cfg.settings, cfg.redacted])
    assert KEY_ID not in blob and TEMP_KEY_ID not in blob and SECRET_KEY not in blob
    [f] = _run("ecs.agent-auth-data-plaintext", cfg)
    assert f.severity == "critical" and key in f.evidence["keys"] and key in f.message
    assert SECRET_KEY not in json.dumps(f.__dict__, default=str) and KEY_ID not in f.message
    assert cfg.settings["ECS_CLUSTER"] == "prod"


def test_a_short_upper_case_word_is_no_access_key():
    cfg = _cfg("ECS_CLUSTER=AKIAPROD\nECS_LOGLEVEL=info\nAWS_DEFAULT_REGION=eu-west-1\n")
    assert cfg.redacted == [] and cfg.settings["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert not _run("ecs.agent-auth-data-plaintext", cfg)


def test_engine_auth_type_is_not_redacted():
    cfg = _cfg('ECS_CLUSTER=prod\nECS_ENGINE_AUTH_TYPE=dockercfg\nECS_ENGINE_AUTH_DATA={"r":{"auth":"x","email":"e"}}\n')
    assert cfg.settings["ECS_ENGINE_AUTH_TYPE"] == "dockercfg" and cfg.redacted == ["ECS_ENGINE_AUTH_DATA"]
    [f] = _run("ecs.agent-auth-data-plaintext", cfg)
    assert f.evidence["auth_type"] == "dockercfg" and f.evidence["keys"] == ["ECS_ENGINE_AUTH_DATA"]


@pytest.mark.parametrize("ref", ["$AUTH", "${AUTH}", "${AUTH:-}"])
def test_variables_are_unresolved_not_values(ref):
    text = ("#!/bin/bash\nAUTH=$(aws secretsmanager get-secret-value --secret-id reg --query SecretString "
            "--output text)\ncat <<EOF >> /etc/ecs/ecs.config\nECS_CLUSTER=${CLUSTER}\n"
            f"ECS_ENGINE_AUTH_DATA={ref}\nECS_IMAGE_PULL_BEHAVIOR=$PULL\nEOF\n")
    cfg = _cfg(text)
    assert cfg.settings["ECS_ENGINE_AUTH_DATA"] == ref and cfg.redacted == []
    [f] = _run("ecs.agent-auth-data-plaintext", cfg)
    assert f.severity == "medium" and "unresolved" in f.message and f.evidence["unresolved"] is True
    assert "in plain text (value redacted)" not in f.message
    assert not _run("ecs.agent-missing-cluster", cfg)  # ${CLUSTER} sets it, to a value chosen at boot
    assert not _run("ecs.agent-pull-behavior", cfg)  # $PULL is not "a value the agent does not know"


def test_plain_ecs_config_is_not_user_data(cli, tmp_path):
    plain = "# agent settings\nECS_LOGLEVEL=info\n\nECS_IMAGE_PULL_BEHAVIOR=once\n"
    assert is_plain_config(plain) and not is_plain_config("#!/bin/bash\necho ECS_LOGLEVEL=info\n")
    f = tmp_path / "ecs.config"
    f.write_text(plain)
    res = cli("ecs", "agent-config", f, "--format", "json")
    doc = json.loads(res.out)
    assert doc["totals"]["source"] == "ecs.config"
    [missing] = [i for i in doc["items"] if i["check"] == "ecs.agent-missing-cluster"]
    assert "user data" not in missing["message"] and missing["message"].startswith(f"ecs.config {f}")
    script = tmp_path / "user-data.sh"
    script.write_text("#!/bin/bash\nexport ECS_LOGLEVEL=info\n")
    doc = json.loads(cli("ecs", "agent-config", script, "--format", "json").out)
    assert doc["totals"]["source"] == "user-data"
    [missing] = [i for i in doc["items"] if i["check"] == "ecs.agent-missing-cluster"]
    assert "the user data does not write /etc/ecs/ecs.config" in missing["message"]


def test_agent_config_command_shows_unresolved_and_hides_keys(cli, tmp_path):
    f = tmp_path / "user-data.sh"
    f.write_text(f"#!/bin/bash\ncat <<EOF >> /etc/ecs/ecs.config\nECS_CLUSTER=$CLUSTER\nEOF\n"
                 f"export AWS_SECRET_ACCESS_KEY={SECRET_KEY}\n")
    for fmt in ("table", "json", "csv"):
        res = cli("ecs", "agent-config", f, "--format", fmt)
        assert res.code == 0 and SECRET_KEY not in res.out + res.err
    table = cli("ecs", "agent-config", f).out
    assert "unresolved" in table and "AWS_SECRET_ACCESS_KEY" in table
    doc = json.loads(cli("ecs", "agent-config", f, "--format", "json").out)
    assert doc["totals"]["unresolved"] == ["ECS_CLUSTER"] and doc["totals"]["redacted"] == ["AWS_SECRET_ACCESS_KEY"]
    assert [i["severity"] for i in doc["items"] if i["check"] == "ecs.agent-auth-data-plaintext"] == ["critical"]
