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
import warnings
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


def compile_cell(source: str, filename: str) -> types.CodeType:
    """``source`` compiled as IPython runs it. Most cells are plain Python, which IPython's
    transformer leaves as it is: those are compiled as they are, without it (tokenising a
    cell costs more than compiling it)."""
    if source[:1].isspace() or _TRANSFORMED_ANYWAY.search(source):
        return compile(to_python(source), filename, "exec")
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        try:
            code = compile(source, filename, "exec")
        except SyntaxError:  # IPython syntax, or an error compiling the transform reports
            code = None
    if code is None:
        return compile(to_python(source), filename, "exec")
    for warning in warned:  # a SyntaxWarning of the cell, once, as compiling it gives it
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    return code


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
    progress_fd = None
    if progress is not None:
        try:
            progress_fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError:  # the submission holds a folder of that name: no number, then
            pass
    try:
        for number, source in enumerate(sources, start=1):
            if number in skip:
                records.append({"cell": number, "status": "skipped", "output_chars": 0})
                continue
            filename = f"{label} code cell {number}"
            if progress_fd is not None:
                _note_progress(progress_fd, number)
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
        if progress_fd is not None:
            try:
                os.close(progress_fd)
            except OSError:  # a cell closed it
                pass
    return records


def _note_progress(fd: int, number: int) -> None:
    """The cell running now, as the file's first 10 characters (a fixed width: the file is
    never shorter than what it held before)."""
    try:
        os.pwrite(fd, f"{number:<10d}".encode(), 0)
    except OSError:  # a cell closed the descriptor: the judge's message loses the number
        pass


def notebook_module(name: str, path: Path, label: str | None = None, **options: Any
                    ) -> tuple[types.ModuleType, list[dict[str, Any]]]:
    """A module holding what the notebook at ``path`` defines, and its cell records."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    records = run_cells(read_code_cells(path), module, label or str(path), **options)
    return module, records
