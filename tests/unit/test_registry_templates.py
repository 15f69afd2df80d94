"""The suggested repository creation template: a valid lifecycle policy, Terraform python-hcl2 parses,
CloudFormation cfn-lint accepts, and the CLI prints each."""
import json

import hcl2
import pytest

from ecrwise.analysis.registry_checks import suggested_template
from ecrwise.lifecycle.policy import parse_policy
from ecrwise.remediate.registry_templates import cloudformation, terraform


@pytest.mark.parametrize("purpose,prefix", [("PULL_THROUGH_CACHE", "ecr-public"), ("REPLICATION", "ROOT")])
def test_template_renders_as_terraform_and_cloudformation(purpose, prefix):
    from cfnlint.api import ManualArgs, lint

    t = suggested_template(purpose, prefix)
    assert len(parse_policy(t["lifecyclePolicy"]).rules) == 2  # ECR's rules, as the linter checks them
    tf = hcl2.loads(terraform(t, "test"), serialization_options=hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False))
    (res,) = [body for r in tf["resource"] for k, v in r.items() if k == "aws_ecr_repository_creation_template"
              for body in v.values()]
    assert res["prefix"] == prefix and res["applied_for"] == [purpose]
    heredoc = res["lifecycle_policy"]  # python-hcl2 keeps a heredoc's markers
    assert heredoc.startswith("<<-EOT") and heredoc.rstrip().endswith("EOT")
    assert json.loads(heredoc.strip()[len("<<-EOT"):-len("EOT")]) == json.loads(t["lifecyclePolicy"])
    cfn = cloudformation(t, "test")
    assert lint(json.dumps(cfn), config=ManualArgs(regions=["us-east-1"])) == []
    (r,) = cfn["Resources"].values()
    assert r["Properties"]["AppliedFor"] == [purpose] and r["Properties"]["LifecyclePolicy"] == t["lifecyclePolicy"]


def test_cli_prints_each_format(cli):
    doc = json.loads(cli("registry", "template", "--purpose", "REPLICATION", "--format", "json").out)
    assert doc["appliedFor"] == ["REPLICATION"] and doc["prefix"] == "ROOT"
    assert "aws_ecr_repository_creation_template" in cli("registry", "template", "--format", "terraform").out
    assert "AWS::ECR::RepositoryCreationTemplate" in cli("registry", "template", "--format", "cloudformation").out
    res = cli("registry", "template", "--format", "csv")
    assert res.code == 2
