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
