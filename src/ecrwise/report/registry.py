"""Rendering a suggested repository creation template: JSON (the CLI's --cli-input-json), Terraform,
CloudFormation, and a short table."""
from __future__ import annotations

import json
import sys
from typing import Any

from ecrwise.report.output import stdout_console
from ecrwise.report.render import Result, View, view


def template_result(template: dict[str, Any], version: str) -> Result:
    return Result("registry-template", [template], {"purpose": template["appliedFor"][0]}, [],
                  document=template, data=version)


def _table(res: Result) -> None:
    t = res.items[0]
    console = stdout_console()
    console.print(f"creation template for {', '.join(t['appliedFor'])} repositories under prefix {t['prefix']}",
                  markup=False)
    console.print(json.dumps(json.loads(t["lifecyclePolicy"]), indent=2), markup=False)


def _terraform(res: Result) -> None:
    from ecrwise.remediate.registry_templates import terraform

    sys.stdout.write(terraform(res.document, res.data))


def _cloudformation(res: Result) -> None:
    from ecrwise.remediate.registry_templates import cloudformation

    sys.stdout.write(json.dumps(cloudformation(res.document, res.data), indent=2) + "\n")


def _json(res: Result) -> None:
    # The request document itself, so `aws ecr create-repository-creation-template --cli-input-json` takes it.
    sys.stdout.write(json.dumps(res.document, indent=2) + "\n")


view(View("registry-template", table=_table, json=False,
          extra={"json": _json, "terraform": _terraform, "cloudformation": _cloudformation}))
