"""Errors and data problems.

A :class:`Problem` is one finding about the input data, located as a person
sees it in a spreadsheet (file, row with the header as row 1, column). The
loader collects *all* problems before failing, then raises :class:`DataError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DataError",
    "DateOrderError",
    "OpportunityMapError",
    "OutputLocationError",
    "Problem",
    "TargetError",
    "UnknownComuneError",
    "UnknownOpportunityTypeError",
    "UnknownTerritoryError",
    "UsageError",
    "format_problems",
]

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
        # the library speaks English; the problems are the data layer's Italian lines
        noun = "error" if n_err == 1 else "errors"
        msg = f"{n_err} data {noun}:\n" + format_problems(self.problems)
        super().__init__(msg)


def format_problems(problems: Iterable[Problem]) -> str:
    """One line per problem, ``file:row: column: message``, sorted by location."""
    ordered = sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.message))
    return "\n".join(str(p) for p in ordered)


class UsageError(OpportunityMapError, ValueError):
    """A function was called with an argument it cannot use (not a data problem).

    The message names the parameter and says what is expected. The command line
    reports it as a usage error (exit status 2).

    Parameters
    ----------
    message : str
        What is wrong, naming the parameter.
    param : str, optional
        The name of the parameter.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class UnknownTerritoryError(UsageError):
    """A territory name or slug that the map does not hold.

    Attributes
    ----------
    name : str
        The territory as given.
    known : tuple of str
        The slugs the caller could have used.
    """

    def __init__(self, name: str, known: Iterable[str], *, param: str = "territory") -> None:
        self.name = name
        self.known = tuple(known)
        msg = (f"{param}={name!r} is not a territory of this map; expected a slug or name "
               f"among {list(self.known)}")
        super().__init__(msg, param=param)


class DateOrderError(UsageError):
    """Two dates in the wrong order (``earlier`` must come strictly before ``later``).

    Attributes
    ----------
    earlier_param, later_param : str
        The two parameter names (``"baseline"``, ``"as_of"``).
    earlier, later : datetime.date
        The two dates as given.
    """

    def __init__(self, earlier_param: str, earlier: dt.date, later_param: str,
                 later: dt.date) -> None:
        self.earlier_param, self.earlier = earlier_param, earlier
        self.later_param, self.later = later_param, later
        msg = (f"{later_param}={later.isoformat()} must be after "
               f"{earlier_param}={earlier.isoformat()}")
        super().__init__(msg, param=later_param)


class TargetError(UsageError):
    """A density target that cannot be what the caller meant.

    Attributes
    ----------
    value : object
        The target as given.
    """

    def __init__(self, value: object, message: str) -> None:
        self.value = value
        super().__init__(message, param="target")


class OutputLocationError(UsageError):
    """An output that would overwrite an input, land inside it, or replace a file.

    Attributes
    ----------
    out : str
        The output as given.
    source : str or None
        The input it collides with (``None`` when ``out`` is an existing file).
    relation : {"file", "same", "inside", "holds"}
        ``out`` is an existing file; is the input; lies inside the input folder;
        holds the input.
    """

    def __init__(self, out: str, source: str | None, relation: str, *,
                 param: str = "out_dir") -> None:
        self.out, self.source, self.relation = out, source, relation
        what = {
            "file": "is an existing file, not a folder",
            "same": f"is the input {source!r}",
            "inside": f"is inside the input {source!r}",
            "holds": f"holds the input {source!r}",
        }[relation]
        super().__init__(f"{param}={out!r} {what}", param=param)


class UnknownComuneError(UsageError):
    """A comune name that matches no Italian comune, or several (ambiguous).

    Attributes
    ----------
    name : str
        The comune as given.
    candidates : tuple of str
        The closest comuni (``"Name (XX)"``), or every comune of that name when
        ``ambiguous``.
    ambiguous : bool
        True when the name exists in several provinces: the caller must say which.
    """

    def __init__(self, name: str, candidates: Iterable[str] = (), *, ambiguous: bool = False,
                 param: str = "comune") -> None:
        self.name = name
        self.candidates = tuple(candidates)
        self.ambiguous = ambiguous
        if ambiguous:
            msg = (f"{param}={name!r} is ambiguous: {list(self.candidates)}; give the "
                   "province, e.g. 'Name (XX)' or province=")
        else:
            msg = f"{param}={name!r} is not an Italian comune; closest: {list(self.candidates)}"
        super().__init__(msg, param=param)


class UnknownOpportunityTypeError(UsageError):
    """An opportunity type that is neither a code nor an Italian label of the vocabulary.

    Attributes
    ----------
    value : str
        The type as given.
    known : tuple of str
        The allowed codes.
    """

    def __init__(self, value: str, known: Iterable[str], *, param: str = "types") -> None:
        self.value = value
        self.known = tuple(known)
        msg = f"{param}: unknown opportunity type {value!r}; expected one of {list(self.known)}"
        super().__init__(msg, param=param)
