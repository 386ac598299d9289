"""Errors and validation messages meant for people.

Every problem with a user's input is raised as a :class:`SpanalysisError` (or a subclass).
The command line prints its message and exits with status 2, never a traceback. A message
names the file, the row as a spreadsheet shows it (header = row 1), the column, the value
found and what was expected, so the user can go straight to the cell.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = ["Issue", "SpanalysisError", "InputError", "ValidationError", "format_location"]


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_location(file: str | None = None, row: int | None = None,
                    column: str | None = None) -> str:
    parts = []
    if file:
        parts.append(str(file))
    if row is not None:
        parts.append(f"row {row}")
    if column:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


@dataclass(frozen=True)
class Issue:
    """One validation finding.

    Attributes
    ----------
    level : {"error", "warning"}
    message : str
        What is wrong, in plain words.
    file, row, column : where. ``row`` is the spreadsheet row (the header is row 1).
    value : the value found (``None`` when not applicable).
    expected : what would have been accepted.
    """

    level: str
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: Any = None
    expected: str | None = None

    def __str__(self) -> str:
        where = format_location(self.file, self.row, self.column)
        text = f"{where}: {self.message}" if where else self.message
        details = []
        if self.value is not None:
            details.append(f"found {_show(self.value)}")
        if self.expected:
            details.append(f"expected {self.expected}")
        if details:
            text += f" ({'; '.join(details)})"
        return text

    def as_dict(self) -> dict:
        return {"level": self.level, "file": self.file, "row": self.row, "column": self.column,
                "value": None if self.value is None else str(self.value),
                "expected": self.expected, "message": self.message}


class SpanalysisError(Exception):
    """A problem with the user's input or settings (exit status 2, no traceback)."""

    exit_code = 2

    def _render_traceback_(self) -> list[str]:
        # IPython (a notebook, papermill) shows this instead of a traceback: a user's mistake
        # reads as its message, as on the command line
        return [f"{type(self).__name__}: {self}"]


class InputError(SpanalysisError):
    """One problem at a known place in an input file."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, value: Any = None, expected: str | None = None):
        self.issue = Issue("error", message, file=file, row=row, column=column, value=value,
                           expected=expected)
        super().__init__(str(self.issue))


@dataclass
class ValidationError(SpanalysisError):
    """Validation found one or more errors. ``issues`` holds errors and warnings."""

    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    def summary(self, limit: int = 50) -> str:
        errs = self.errors
        lines = [f"{len(errs)} error(s) found:"]
        lines += [f"  error: {e}" for e in errs[:limit]]
        if len(errs) > limit:
            lines.append(f"  ... and {len(errs) - limit} more (run 'spanalysis validate' for all)")
        return "\n".join(lines)

    def __str__(self) -> str:  # dataclass would otherwise replace Exception.__str__
        return self.summary()


def raise_if_errors(issues: Iterable[Issue]) -> None:
    issues = list(issues)
    if any(i.level == "error" for i in issues):
        raise ValidationError(issues)
