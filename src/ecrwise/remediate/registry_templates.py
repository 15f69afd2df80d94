"""A repository creation template as Terraform HCL and as a CloudFormation template. Pure.

The template is in CreateRepositoryCreationTemplate's request shape (`analysis.registry_checks.
suggested_template`). Terraform: `aws_ecr_repository_creation_template` (AWS provider 5.x; `applied_for`,
`prefix`, `image_tag_mutability`, `lifecycle_policy`). CloudFormation: `AWS::ECR::RepositoryCreationTemplate`
(`Prefix`, `AppliedFor`, `ImageTagMutability`, `LifecyclePolicy`, `Description`;
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecr-repositorycreationtemplate.html).
"""
from __future__ import annotations

import json
import re
from typing import Any


def _name(prefix: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", prefix.lower()).strip("_") or "root"


def terraform(template: dict[str, Any], version: str) -> str:
    name = _name(template["prefix"])
    policy = json.dumps(json.loads(template["lifecyclePolicy"]), indent=2) if template.get("lifecyclePolicy") else None
    lines = [f"# Written by ecrwise {version}: a creation template so repositories ECR creates get a lifecycle policy.",
             f'resource "aws_ecr_repository_creation_template" "{name}" {{',
             f"  prefix               = {json.dumps(template['prefix'])}",
             f"  description          = {json.dumps(template.get('description', ''))}",
             f"  applied_for          = {json.dumps(template['appliedFor'])}"]
    if template.get("imageTagMutability"):
        lines.append(f"  image_tag_mutability = {json.dumps(template['imageTagMutability'])}")
    if policy:
        lines += ["  lifecycle_policy     = <<-EOT", *(f"    {line}" for line in policy.splitlines()), "  EOT"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def cloudformation(template: dict[str, Any], version: str) -> dict[str, Any]:
    props: dict[str, Any] = {"Prefix": template["prefix"], "AppliedFor": list(template["appliedFor"]),
                             "Description": template.get("description", "")}
    if template.get("imageTagMutability"):
        props["ImageTagMutability"] = template["imageTagMutability"]
    if template.get("lifecyclePolicy"):
        props["LifecyclePolicy"] = template["lifecyclePolicy"]
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Written by ecrwise {version}: an ECR repository creation template with a lifecycle policy",
            "Resources": {f"EcrwiseCreationTemplate{_name(template['prefix']).title().replace('_', '')}": {
                "Type": "AWS::ECR::RepositoryCreationTemplate", "Properties": props}}}
