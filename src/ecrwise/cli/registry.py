"""`ecrwise registry template`: the repository creation template the created-repository check suggests."""
from __future__ import annotations

from enum import Enum

import typer

from ecrwise import __version__

app = typer.Typer(no_args_is_help=True)


class Purpose(str, Enum):
    pull_through_cache = "PULL_THROUGH_CACHE"
    replication = "REPLICATION"
    create_on_push = "CREATE_ON_PUSH"


class TemplateFormat(str, Enum):
    table = "table"
    json = "json"
    terraform = "terraform"
    cloudformation = "cloudformation"


@app.command("template")
def template_cmd(
    purpose: Purpose = typer.Option(Purpose.pull_through_cache, "--purpose", help="Which repositories ECR creates "
                                    "it applies to."),
    prefix: str = typer.Option("ROOT", "--prefix", help="Repository name prefix (ROOT: every repository no other "
                               "template matches)."),
    fmt: TemplateFormat = typer.Option(TemplateFormat.table, "--format", "-f", help="table | json (the "
                                       "--cli-input-json document) | terraform | cloudformation"),
) -> None:
    """A repository creation template with a lifecycle policy (untagged after 14 days, at most 30 images)."""
    from ecrwise.analysis.registry_checks import suggested_template
    from ecrwise.report.registry import template_result
    from ecrwise.report.render import render

    render(template_result(suggested_template(purpose.value, prefix), __version__), fmt.value)
