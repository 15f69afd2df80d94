"""Errors a user can cause, mapped to exit codes by the CLI (never a traceback)."""


class UserError(Exception):
    """Bad input or usage: exit status 2. The message names the file, field or JSON path."""

    exit_code = 2


class AwsUnavailable(Exception):
    """AWS could not be reached, or credentials are missing or denied everywhere: exit status 3."""

    exit_code = 3
