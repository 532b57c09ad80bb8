"""Errors and data problems.

A :class:`Problem` is one finding about the input data, located as a person
sees it in a spreadsheet (file, row with the header as row 1, column). The
loader collects *all* problems before failing, then raises :class:`DataError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["DataError", "OpportunityMapError", "Problem", "format_problems"]

Severity = Literal["error", "warning"]


class OpportunityMapError(Exception):
    """Base class of the errors raised by opportunity_map."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in the data.

    Attributes
    ----------
    file : str
        The file, as given (relative to the loaded folder's parent when possible).
    row : int or None
        Row as a spreadsheet shows it (the header is row 1); ``None`` for a
        whole-file problem.
    column : str or None
        The column header as written in the file; ``None`` for a whole-row or
        whole-file problem.
    message : str
        Plain Italian explanation, with the closest valid value when there is one.
    severity : {"error", "warning"}
        Errors stop the load; warnings are reported and the data is kept.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        col = f" {self.column}:" if self.column else ""
        tag = "" if self.severity == "error" else " [avviso]"
        return f"{where}:{col}{tag} {self.message}"


class DataError(OpportunityMapError, ValueError):
    """The input data has errors; ``problems`` lists every one of them.

    Parameters
    ----------
    problems : iterable of Problem
        All problems found (errors and warnings).
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        n_err = sum(p.severity == "error" for p in self.problems)
        msg = f"{n_err} errori nei dati:\n" + format_problems(self.problems)
        super().__init__(msg)


def format_problems(problems: Iterable[Problem]) -> str:
    """One line per problem, ``file:row: column: message``, sorted by location."""
    ordered = sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.message))
    return "\n".join(str(p) for p in ordered)
