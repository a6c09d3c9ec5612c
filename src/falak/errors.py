"""One exception hierarchy for falak.

Every error falak raises on purpose derives from :class:`FalakError`. Errors carry structured
fields (where, what was expected, what was found) and a message that shows the fix, so a user
can act on the first line they read.
"""

from __future__ import annotations


class FalakError(Exception):
    """Root of every error falak raises on purpose."""


class MdbError(FalakError):
    """A mission database is wrong: names where (file, line or XPath), what, and the fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        xpath: str | None = None,
        fix: str | None = None,
        severity: str = "error",
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.xpath = xpath
        self.fix = fix
        #: "error" stops a load; "warning" (legal but doubtful, decoded best-effort) does not
        self.severity = severity
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        text = where + ("warning: " if self.severity == "warning" else "") + self.message
        if self.xpath:
            text += f" (at {self.xpath})"
        if self.fix:
            text += f"; fix: {self.fix}"
        return text


class MdbErrors(MdbError):
    """Several mission-database errors found in one pass, reported together."""

    def __init__(self, errors: list[MdbError]) -> None:
        self.errors = list(errors)
        FalakError.__init__(self, "\n".join(str(e) for e in self.errors))
        self.message = str(self)
        self.file = errors[0].file if errors else None
        self.line = errors[0].line if errors else None
        self.xpath = None
        self.fix = None
        self.severity = "error"


class DecodeError(FalakError):
    """A single packet or value cannot be decoded (scalar APIs only; batch APIs count instead)."""


class EncodeError(FalakError):
    """A value cannot be encoded with the given data encoding."""


class TimeCodeError(FalakError):
    """A CCSDS time code is malformed or a time is outside what the code can represent."""


class CommandRejected(FalakError):
    """A command was refused: bad argument, missing privilege, failed constraint."""

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        self.argument = argument
        super().__init__(message)


class PlanInfeasible(FalakError):
    """A plan cannot satisfy its constraints; ``conflicts`` names them in words."""

    def __init__(self, message: str, conflicts: list[str] | None = None) -> None:
        self.conflicts = list(conflicts or [])
        super().__init__(message)


class InputError(FalakError):
    """A user-supplied value (site, time, file, option) is out of range or malformed."""
