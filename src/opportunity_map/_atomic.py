"""Atomic file writing: a failed run never leaves a half-written output.

One file is written through a temporary file renamed into place
(:func:`atomic_path`); a build's many outputs are written in a staging folder and
moved into place only when all succeeded (:func:`staged_outputs`), after checking
that the output does not overlap the input (:func:`check_output_location`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import OutputLocationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OUTPUT_MARKER",
    "StagedOutputs",
    "atomic_path",
    "check_output_location",
    "check_writable",
    "is_output_folder",
    "staged_outputs",
    "write_bytes_atomic",
    "write_excel_csv",
    "write_text_atomic",
]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    The temporary file lives in the same folder, so the final ``os.replace`` is
    atomic on POSIX and Windows. On any exception the temporary file is removed
    and ``target`` is left untouched.

    Parameters
    ----------
    target : path-like
        The file to (re)write. Its parent folder is created if missing.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with atomic_path(Path(folder) / "table.csv") as tmp:
    ...         _ = tmp.write_text("a,b\\n1,2\\n", encoding="utf-8")
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['table.csv']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_excel_csv(target: str | os.PathLike[str], frame: pd.DataFrame, *,
                    footer: Sequence[str] = ()) -> Path:
    """Write a table users open in Excel: UTF-8 with a byte-order mark, CRLF, atomically.

    Parameters
    ----------
    target : path-like
        The ``.csv`` file.
    frame : pandas.DataFrame
        The table, written without its index.
    footer : sequence of str
        Lines written after the table, each prefixed with ``"# "`` (a note).

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    text = frame.to_csv(index=False, lineterminator="\r\n")
    text += "".join(f"# {line}\r\n" for line in footer)
    return write_bytes_atomic(target, text.encode("utf-8-sig"))


#: The file that marks a folder as written by opportunity_map: what the last build
#: wrote there. The loader never reads such a folder back as input.
OUTPUT_MARKER = ".opportunity_map.json"
_STAGING_PREFIX = ".opportunity_map-staging-"


def is_output_folder(folder: Path) -> bool:
    """Whether ``folder`` holds outputs of opportunity_map (its marker, or a staging folder)."""
    return (folder / OUTPUT_MARKER).is_file() or folder.name.startswith(_STAGING_PREFIX)


def check_output_location(out: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]],
                          *, param: str = "out_dir") -> Path:
    """Refuse an output that is a file where a folder is needed, or overlaps an input.

    Parameters
    ----------
    out : path-like
        The output folder.
    inputs : sequence of path-like
        The files and folders read (the data, a territories file...).
    param : str
        The parameter named in the error.

    Returns
    -------
    pathlib.Path
        ``out``, resolved.

    Raises
    ------
    OutputLocationError
        If ``out`` is an existing file, is an input, lies inside an input folder, or
        holds an input.

    Examples
    --------
    >>> check_output_location("data/ambiti/out", ["data/ambiti"])
    Traceback (most recent call last):
    ...
    opportunity_map._errors.OutputLocationError: out_dir='...' is inside the input 'data/ambiti'
    """
    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise OutputLocationError(str(out), None, "file", param=param)
    for given in inputs:
        source = Path(given).resolve()
        if target == source:
            raise OutputLocationError(str(out), str(given), "same", param=param)
        if source.is_dir() and source in target.parents:
            raise OutputLocationError(str(out), str(given), "inside", param=param)
        if target in source.parents:
            raise OutputLocationError(str(out), str(given), "holds", param=param)
    return target


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check a file can be written in it.

    Raises
    ------
    PermissionError, OSError
        When the folder cannot be created or written (nothing is left behind).
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".opportunity_map-check-", dir=folder)
    os.close(fd)
    os.unlink(name)


class StagedOutputs:
    """Outputs written in a hidden staging folder, moved into place only when all succeed.

    Use :func:`staged_outputs`. ``root`` is where the writers write;
    :meth:`commit` moves each file or folder written there onto the output folder
    (``os.replace``, atomic per entry), removes the files of the previous builds
    (listed in :data:`OUTPUT_MARKER`) that ``retire`` selects and this build did not
    write again, and records the list of outputs present. A
    failure before :meth:`commit` (an exception, Ctrl-C, SIGTERM turned into an
    exception, a full disk) removes the staging folder and leaves the previous
    outputs as they were.
    """

    def __init__(self, out: Path, retire: Callable[[str], bool] | None = None) -> None:
        self.out = out
        self.retire = retire
        out.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out))

    def final(self, staged: Path) -> Path:
        """Where a path of the staging folder ends up after :meth:`commit`."""
        return self.out / staged.relative_to(self.root)

    def commit(self) -> list[Path]:
        """Move the staged outputs into place; return their final paths."""
        previous = _read_marker(self.out)
        entries = sorted(self.root.iterdir())
        names = [e.name for e in entries]
        trash = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX + "old-", dir=self.out))
        try:
            for entry in entries:
                target = self.out / entry.name
                if target.is_dir() and not target.is_symlink():
                    os.replace(target, trash / entry.name)
                os.replace(entry, target)
            kept = []
            for name in previous:
                if name in names or Path(name).name != name:
                    continue
                stale = self.out / name
                if self.retire is not None and self.retire(name) and stale.is_file():
                    stale.unlink()
                elif stale.exists():
                    kept.append(name)
            write_text_atomic(self.out / OUTPUT_MARKER, json.dumps(
                {"generator": "opportunity_map", "files": sorted({*kept, *names})},
                indent=1) + "\n")
        finally:
            shutil.rmtree(trash, ignore_errors=True)
            shutil.rmtree(self.root, ignore_errors=True)
        return [self.out / n for n in names]

    def discard(self) -> None:
        """Remove the staging folder and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)


def _read_marker(out: Path) -> list[str]:
    try:
        data = json.loads((out / OUTPUT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = data.get("files", []) if isinstance(data, dict) else []
    return [str(f) for f in files if isinstance(f, str)]


@contextlib.contextmanager
def staged_outputs(out: str | os.PathLike[str], *,
                   retire: Callable[[str], bool] | None = None) -> Iterator[StagedOutputs]:
    """Stage a build's outputs and move them into ``out`` only if every one was written.

    Parameters
    ----------
    out : path-like
        The output folder.
    retire : callable, optional
        ``retire(name)`` is true for a file of a previous build that this build
        replaces as a whole (the maps of territories no longer drawn): it is removed
        on commit unless written again.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with staged_outputs(folder) as stage:
    ...         _ = write_text_atomic(stage.root / "index.html", "<p>ok</p>")
    ...         visible_during = sorted(p.name for p in Path(folder).iterdir()
    ...                                 if not p.name.startswith("."))
    ...     visible_during, sorted(p.name for p in Path(folder).iterdir())
    ([], ['.opportunity_map.json', 'index.html'])
    """
    stage = StagedOutputs(Path(out), retire)
    try:
        yield stage
    except BaseException:
        stage.discard()
        raise
    stage.commit()
