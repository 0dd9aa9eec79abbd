"""Run a notebook's code cells, in order, as one module: the way a student ran them.

Used in the worker for submissions (the only place student code runs) and in the judge for
the trusted reference notebook. IPython syntax is turned into plain Python by IPython's own
input transformers (``!pip install foo`` becomes ``get_ipython().system(...)``), and the
``get_ipython()`` seen by the cells is a stub: shell commands and most magics are ignored,
``%time``/``%%time``/``%%capture`` just run their code. A cell that raises, or runs past its
time limit, is recorded and the next cell runs anyway, as after "Run All" in Jupyter with
errors allowed. Output is counted and capped so a cell printing 100 MB costs nothing.
"""

from __future__ import annotations

import functools
import json
import linecache
import os
import re
import signal
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

# Magics whose code still runs (once); every other magic and shell command is ignored.
_RUNNING_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
OUTPUT_KEPT = 64 * 1024  # characters of a cell's output passed on to the worker's log
MIN_CELL_SECONDS = 0.2  # the least a cell gets when the notebook's budget runs low
RESERVE_SECONDS = 0.05  # kept back for each later cell (most cells take milliseconds)


class CellTimeout(BaseException):
    """Raised in a cell that runs past its time limit (a BaseException, so a student's
    ``except Exception`` does not swallow it)."""


def code_cells(notebook: dict[str, Any]) -> list[str]:
    """The sources of the code cells of a notebook read as plain JSON, in order."""
    sources = []
    for cell in notebook.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


def read_code_cells(path: Path) -> list[str]:
    return code_cells(json.loads(Path(path).read_text(encoding="utf-8")))


@functools.cache
def _transformer() -> Any:
    """IPython's own cell transformer, imported on first use (the judge needs it only for a
    notebook reference; the zygote preloads it for the workers)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def to_python(source: str) -> str:
    """IPython syntax (magics, shell escapes, ``obj?``) as plain Python calling get_ipython()."""
    try:
        return _transformer().transform_cell(source)
    except Exception:  # leave it to compile() to report what is wrong
        return source


# What IPython's transformer changes even in code that compiles as Python: leading blank
# lines or indentation (a cell starting with white space), lines of only spaces and tabs
# (emptied by its textwrap.dedent, inside strings too), and pasted prompts (">>> ",
# "... ", "In [3]: ", "   ...: ").
_TRANSFORMED_ANYWAY = re.compile(r"^[ \t]+$|^\s*(>>>|\.\.\.)|^(\[(nav|ins)\] | )?In \[\d+\]:",
                                 re.MULTILINE)


# Line breaks other than "\n" that IPython's str.splitlines() also splits on: a prompt after
# one of them starts a line for the transformer but not for the pattern above.
_OTHER_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def compile_cell(source: str, filename: str) -> types.CodeType:
    """``source`` compiled as IPython runs it. Most cells are plain Python, which IPython's
    transformer leaves as it is: those are compiled as they are, without it (tokenising a
    cell costs more than compiling it). A cell that is not Python is compiled again after the
    transformer; a warning the first attempt gave before its syntax error may then be given
    twice (a thread-safe ``catch_warnings`` does not exist to hold it back)."""
    if (source[:1].isspace() or _TRANSFORMED_ANYWAY.search(source)
            or not _OTHER_LINE_BREAKS.isdisjoint(source)):
        return compile(to_python(source), filename, "exec")
    try:
        return compile(source, filename, "exec")
    except SyntaxError:  # IPython syntax, or an error compiling the transform reports
        return compile(to_python(source), filename, "exec")


class _CappedStream:
    """A text stream that counts what is written and passes on only the first characters."""

    def __init__(self, target: TextIO, keep: int) -> None:
        self.target = target
        self.keep = keep
        self.written = 0

    def write(self, text: str) -> int:
        text = str(text)
        room = self.keep - self.written
        if room > 0:
            try:
                self.target.write(text[:room])
            except (OSError, ValueError):
                pass
        self.written += len(text)
        return len(text)

    def flush(self) -> None:
        try:
            self.target.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


class ShellStub:
    """What ``get_ipython()`` returns while a notebook runs outside IPython."""

    def __init__(self, namespace: dict[str, Any], run: Callable[[str, str], None]) -> None:
        self.user_ns = namespace
        self._run = run

    def system(self, command: str) -> None:
        return None

    def getoutput(self, command: str, *args: Any, **kwargs: Any) -> list[str]:
        return []

    def run_line_magic(self, name: str, line: str, *args: Any, **kwargs: Any) -> None:
        if name in _RUNNING_MAGICS and line.strip():
            self._run(line, "<magic>")
        elif name == "run" and line.strip().endswith(".py"):
            # %run helpers.py: a script of the submission, run into the notebook's namespace
            script = Path(line.strip().split()[-1])
            if script.is_file():
                code = compile(script.read_text(encoding="utf-8"), str(script.resolve()), "exec")
                exec(code, self.user_ns)

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        if name in _RUNNING_MAGICS:
            self._run("\n" + cell, "")  # one line down: the magic's own line comes first

    def magic(self, line: str) -> None:
        return None

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def _display(*objects: Any, **kwargs: Any) -> None:
    for obj in objects:
        print(repr(obj))


def _on_alarm(signum: int, frame: Any) -> None:
    raise CellTimeout()


def run_cells(sources: list[str], module: types.ModuleType, label: str,
              cell_seconds: float | None = None, skip: set[int] = frozenset(),
              describe: Callable[[BaseException], dict[str, Any]] | None = None,
              raise_errors: bool = False, keep_output: int = OUTPUT_KEPT,
              progress: Path | None = None, budget_seconds: float | None = None
              ) -> list[dict[str, Any]]:
    """Execute ``sources`` in ``module``'s namespace; one record per code cell that did not
    simply succeed: ``{"cell": n, "status": "error"|"timeout"|"skipped", "error": ...,
    "output_chars": ...}`` (``output_chars`` also for cells that printed over the cap).

    ``label`` prefixes the file name of each cell (``<label> code cell 3``), so tracebacks
    point at the cell. ``raise_errors`` (the reference) re-raises the first failure.
    ``progress``: a file that holds the number of the cell running, so that whoever stops a
    notebook that ignored its cell limit can say which cell it was. ``budget_seconds``: the
    whole notebook's time; a cell gets less than ``cell_seconds`` when the budget runs low,
    keeping a moment for each later cell, so the exercise cells at the end still run after
    slow cells before them.
    """
    namespace = module.__dict__
    current = {"file": ""}

    def run(code: str, suffix: str) -> None:
        exec(compile_cell(code, current["file"] + suffix), namespace)

    namespace.setdefault("get_ipython", lambda: shell)
    namespace.setdefault("display", _display)
    shell = ShellStub(namespace, run)
    records: list[dict[str, Any]] = []
    saved_streams = sys.stdout, sys.stderr
    use_alarm = cell_seconds is not None and cell_seconds > 0
    deadline = time.monotonic() + budget_seconds if budget_seconds else None
    saved_handler = signal.signal(signal.SIGALRM, _on_alarm) if use_alarm else None
    # Opened once and rewritten in place: a file opened and closed per cell cost more than
    # most cells take.
    progress_file = _ProgressFile.open(progress) if progress is not None else None
    try:
        for number, source in enumerate(sources, start=1):
            if number in skip:
                records.append({"cell": number, "status": "skipped", "output_chars": 0})
                continue
            filename = f"{label} code cell {number}"
            if progress_file is not None:
                progress_file.note(number)
            current["file"] = filename
            # Tracebacks and inspect.getsource find the cell's lines here.
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            out = _CappedStream(saved_streams[0], keep_output)
            err = _CappedStream(saved_streams[1], keep_output)
            sys.stdout, sys.stderr = out, err
            record: dict[str, Any] = {"cell": number, "status": "ok"}
            started = time.perf_counter()
            try:
                if use_alarm:
                    allowed = cell_seconds
                    if deadline is not None:
                        later = len(sources) - number
                        allowed = max(MIN_CELL_SECONDS, min(
                            cell_seconds, deadline - time.monotonic() - RESERVE_SECONDS * later))
                    signal.setitimer(signal.ITIMER_REAL, allowed)
                try:
                    run(source, "")
                finally:
                    if use_alarm:
                        signal.setitimer(signal.ITIMER_REAL, 0)
            except CellTimeout:
                record.update(status="timeout", seconds=round(allowed, 2),
                              budget=allowed < cell_seconds)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt from a cell too
                if raise_errors:
                    raise
                record.update(status="error", error=describe(exc) if describe else
                              {"type": type(exc).__name__, "message": str(exc)[:2000]})
            finally:
                sys.stdout, sys.stderr = saved_streams
            if record["status"] == "timeout" and raise_errors:
                raise RuntimeError(f"{filename} did not finish within {cell_seconds} s")
            record["duration"] = round(time.perf_counter() - started, 3)
            record["output_chars"] = out.written + err.written
            if record["status"] != "ok" or record["output_chars"] > OUTPUT_KEPT:
                records.append(record)
    finally:
        sys.stdout, sys.stderr = saved_streams
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, saved_handler)
        if progress_file is not None:
            progress_file.close()
    return records


class _ProgressFile:
    """The file that holds the number of the cell running now, as its first 10 characters
    (a fixed width, so it is rewritten in place). A cell may close the descriptor and open a
    file of its own that gets the same number: the descriptor is used only while it is
    still the file opened here."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd
        self.identity = self._identity()

    @classmethod
    def open(cls, path: Path) -> _ProgressFile | None:
        try:
            return cls(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644))
        except OSError:  # the submission holds a folder of that name: no number, then
            return None

    def _identity(self) -> tuple[int, int] | None:
        try:
            info = os.fstat(self.fd)
        except (OSError, TypeError):
            return None
        return info.st_dev, info.st_ino

    def _still_ours(self) -> bool:
        if self.fd is not None and self._identity() != self.identity:
            self.fd = None  # closed by a cell, perhaps reused for a file of the student's
        return self.fd is not None

    def note(self, number: int) -> None:
        if self._still_ours():
            try:
                os.pwrite(self.fd, f"{number:<10d}".encode(), 0)
            except OSError:
                pass

    def close(self) -> None:
        if self._still_ours():
            os.close(self.fd)
            self.fd = None


def notebook_module(name: str, path: Path, label: str | None = None, **options: Any
                    ) -> tuple[types.ModuleType, list[dict[str, Any]]]:
    """A module holding what the notebook at ``path`` defines, and its cell records."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    records = run_cells(read_code_cells(path), module, label or str(path), **options)
    return module, records
