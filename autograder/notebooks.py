"""Notebooks on the judge's side: read and validate them as data, never run them.

A submitted ``.ipynb`` is parsed and validated with nbformat here (JSON is data, not code),
so a corrupt file, a non-notebook or an nbformat 3 notebook is reported as a problem with
that file before any worker starts. The scratch copy keeps only what grading needs (saved
outputs are dropped). The cells run in a worker (:mod:`autograder.operations.cells`); what
they reported comes back here as sentences for the report.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat

MAX_NOTEBOOK_BYTES = 32 * 1024 * 1024


def _size(chars: int) -> str:
    if chars >= 1024 * 1024:
        return f"{chars / (1024 * 1024):.1f} MB"
    return f"{chars / 1024:.0f} KB"


def _resave_hint(name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    return (f"open it in Jupyter, check that your work is there, save it and submit it again "
            f"(or submit your code as {stem}.py)")


def check_notebook(name: str, data: bytes) -> tuple[str | None, bytes]:
    """``(problem, cleaned)``: a sentence saying why ``data`` cannot be graded as a notebook
    (None when it can), and the notebook to grade, without saved outputs."""
    import nbformat  # here, not at the top: it costs a second and most graders never need it
    from nbformat.validator import ValidationError

    if len(data) > MAX_NOTEBOOK_BYTES:
        return (f"{name} is larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MB, probably "
                "because of saved output: clear all outputs (Edit > Clear Outputs of All "
                "Cells), save, and submit it again"), b""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{name} is not a Jupyter notebook (it is not UTF-8 text): {_resave_hint(name)}", b""
    try:
        raw = json.loads(text)
    except RecursionError:
        return f"{name} could not be read: its JSON is nested too deeply. Please {_resave_hint(name)}", b""
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        what = ("it is empty" if not text.strip() else
                f"it is not valid notebook JSON ({exc.msg} at {where}); the file may be "
                "corrupt or cut short")
        return f"{name} could not be read: {what}. Please {_resave_hint(name)}", b""
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return (f"{name} is JSON but not a Jupyter notebook (no cells): "
                f"{_resave_hint(name)}"), b""
    version = raw.get("nbformat")
    if not isinstance(version, int) or version < 4:
        shown = version if isinstance(version, int) else "unknown"
        return (f"{name} is in notebook format {shown}; only format 4 (every Jupyter since "
                "2015) can be graded: open it in a current Jupyter, which converts it, save it "
                "and submit it again"), b""
    if version > 4:
        return f"{name} is in notebook format {version}, newer than this grader reads (4)", b""
    try:
        notebook = nbformat.from_dict(raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(notebook)
    except ValidationError as exc:
        if not _cells_readable(raw):
            message = str(exc.message if hasattr(exc, "message") else exc).splitlines()[0][:200]
            return f"{name} is not a valid notebook ({message}): {_resave_hint(name)}", b""
        notebook = nbformat.from_dict(raw)  # a harmless schema slip: the code cells are fine
    except Exception as exc:  # nbformat's reader raises several kinds of errors
        return f"{name} could not be read as a notebook ({type(exc).__name__}): {_resave_hint(name)}", b""
    return None, _code_only(notebook)


def _cells_readable(raw: dict[str, Any]) -> bool:
    cells = raw.get("cells")
    if not isinstance(cells, list):
        return False
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return False
        source = cell.get("source", "")
        if not (isinstance(source, str) or isinstance(source, list)
                and all(isinstance(line, str) for line in source)):
            return False
    return True


def _code_only(notebook: nbformat.NotebookNode) -> bytes:
    """The code cells' sources, in the notebook JSON layout the worker reads."""
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append({"cell_type": "code",
                          "source": "".join(source) if isinstance(source, list) else source})
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells},
                      ensure_ascii=False).encode("utf-8")


def _cell_problem(file: str, record: dict[str, Any]) -> str:
    where = f"{file} code cell {record['cell']}"
    if record["status"] == "timeout":
        why = ("the notebook had used up most of its time" if record.get("budget") else
               "an endless loop, or too much work for grading?")
        return (f"{where} did not finish within {record.get('seconds', 0):g} s and was stopped "
                f"({why}); the cells after it still ran")
    if record["status"] == "error":
        error = record.get("error") or {}
        frames = error.get("frames") or []
        line = ""
        if frames:
            frame = frames[-1]
            code = f": `{frame['code']}`" if frame.get("code") else ""
            line = f" (line {frame['line']}{code})"
        message = str(error.get("message", ""))[:300]
        return (f"{where} raised {error.get('type', 'an error')}{': ' + message if message else ''}"
                f"{line}; the cells after it still ran")
    return ""


def notebook_problems(notebooks: dict[str, dict[str, Any]]) -> list[str]:
    """Sentences for the report about each notebook's cells that failed or printed too much."""
    problems = []
    for info in notebooks.values():
        file = info.get("file", "the notebook")
        for record in info.get("records", []):
            try:  # records come from the worker, where student code could have shaped them
                text = _cell_problem(file, record)
                if text:
                    problems.append(text)
                chars = int(record.get("output_chars", 0))
                if chars > 1024 * 1024:
                    problems.append(f"{file} code cell {int(record['cell'])} printed {_size(chars)} "
                                    "of output; grading ignores output beyond the first 64 KB")
            except (KeyError, TypeError, ValueError, AttributeError):
                problems.append(f"{file}: what one code cell did could not be read")
        if info.get("more_records"):
            problems.append(f"{file}: {info['more_records']} more cells failed or printed "
                            "too much")
    return problems
