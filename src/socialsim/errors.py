"""User-facing errors.

Every mistake a user can make (bad path, unreachable server, malformed file, unknown config key) is raised as a
:class:`SocialsimError` carrying a one-line message and a hint on how to fix it. The CLI prints those two lines
and exits non-zero; tracebacks are shown only with ``--debug``.
"""


class SocialsimError(Exception):
    """An error caused by input or environment, with a message a user can act on."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(SocialsimError):
    """The configuration (YAML, environment or flags) is invalid."""


class BackendError(SocialsimError):
    """An LLM backend could not be created or kept failing after its retries."""


class InputFileError(SocialsimError):
    """An input file is missing or malformed; the message names file, line and column."""

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None,
                 hint: str | None = None) -> None:
        where = str(path)
        if line is not None:
            where += f", line {line}"
            if column is not None:
                where += f", column {column}"
        super().__init__(f"{where}: {message}", hint)
        self.path, self.line, self.column, self.detail = str(path), line, column, message


def brief(exc: BaseException) -> str:
    """One line saying what is wrong with a record (pydantic's own message spans several lines)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        errors = exc.errors()
        where = ".".join(map(str, errors[0]["loc"])) or "record"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{where}: {errors[0]['msg']}{more}"
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
