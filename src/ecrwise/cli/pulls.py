"""`ecrwise pulls`: image-pull traffic and its cost per ECS service (and the pulls per repository no service
explains), crash-looping services, and what each fix saves. Thin: loads a snapshot, calls
`analysis.pulls.analyse_pulls`, renders with `report.pulls`.
"""
from __future__ import annotations

from enum import Enum
import typer

from ecrwise.cli.common import SnapshotInputs, snapshot_inputs
from ecrwise.cli.numbers import finite
from ecrwise.cli.snapshot_data import load_records, snapshot_warnings
from ecrwise.errors import UserError
from ecrwise.report import pulls as view
from ecrwise.report.render import render

app = typer.Typer(help="Image-pull traffic and its cost per ECS service; crash-looping services.",
                  invoke_without_command=True, no_args_is_help=False)


class By(str, Enum):
    service = "service"
    repository = "repository"


@app.callback(invoke_without_command=True)
@snapshot_inputs
def pulls(
    ctx: typer.Context,
    crash_loop_threshold: float = typer.Option(12.0, "--crash-loop-threshold", min=0.001,
                                               callback=finite(ge=0.001, le=1e6),
                                               help="Starts per desired task per day above which a service "
                                                    "crash-loops."),
    by: By = typer.Option(By.service, "--by", help="Rows per service, or per repository (unexplained pulls)."),
    crash_looping: bool = typer.Option(False, "--crash-looping", help="Only crash-looping services."),
    *,
    inputs: SnapshotInputs,
) -> None:
    """Pull traffic and its cost per ECS service; crash-looping services; fixes and their savings."""
    if ctx.invoked_subcommand is not None:
        return
    from ecrwise.analysis.pulls import analyse_pulls

    book = inputs.prices()
    snap, records = load_records(inputs.store, inputs.snapshot)
    try:
        report = analyse_pulls(records, book, crash_loop_threshold=crash_loop_threshold, now=snap.taken_at)
    except ValueError as e:
        raise UserError(f"--crash-loop-threshold: {e}") from None
    warnings = snapshot_warnings(snap, records) + report.warnings
    services = [s for s in report.services if s.crash_loop or not crash_looping]
    snap_doc = snap.as_dict() | {"prices": book.describe()}
    if by is By.repository:
        render(view.repositories_result(report, snap_doc, warnings, f"Pulls per repository · snapshot {snap.id}"),
               inputs.fmt)
        return
    render(view.services_result(report, [view.service_item(s) for s in services], snap_doc, warnings,
                                f"Image pulls per ECS service · snapshot {snap.id} "
                                f"({snap.taken_at:%Y-%m-%d %H:%M} UTC)"), inputs.fmt)
