"""Errors a user can cause, mapped to exit codes by the CLI (never a traceback)."""


class UserError(Exception):
    """Bad input or usage: exit status 2. The message names the file, field or JSON path."""

    exit_code = 2


class AwsUnavailable(Exception):
    """AWS could not be reached, or credentials are missing or denied everywhere: exit status 3."""

    exit_code = 3


class PartialFailure(Exception):
    """An --apply command changed some resources and failed on others: exit status 4. The summary printed
    before it says which; re-running finishes the job."""

    exit_code = 4


def outcome_error(what: str, *, applied: bool, total: int, changed: int, failed: int, stale: int = 0
                  ) -> Exception | None:
    """The error (and so the exit status) for an `--apply`-style command from its per-resource outcomes.

    4 only when the run changed something and left something else undone; never on a dry run, which changes
    nothing. A dry run or an apply that changed nothing: failures to read or write AWS are 3, resources whose
    live state moved since the plan (`stale`) are 2 (the plan is out of date: re-plan). None: all went well.
    """
    undone = failed + stale
    if not undone:
        return None
    if applied and changed:
        return PartialFailure(f"{undone} of {total} {what} not done ({failed} failed, {stale} changed since the "
                              "plan); re-run after fixing the cause")
    if failed:
        return AwsUnavailable(f"{failed} of {total} {what} could not be read or changed in AWS; nothing was "
                              "changed" + ("" if applied else " (dry run)"))
    return UserError(f"{stale} of {total} {what} changed since the plan was made; re-run `ecrwise lifecycle plan`")
