"""Operations on notebooks: run a submitted notebook's code cells (see
:mod:`autograder.operations.cells`) as a module and report the cells that failed.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from autograder.operations import cells
from autograder.operations.registry import operation
from autograder.operations.state import WorkerState

MAX_CELL_RECORDS = 20
PROGRESS_FILE = ".notebook-progress"  # the code cell running now, for the judge's messages


@operation
def load_notebook(state: WorkerState, name: str, file: str, cell_seconds: float = 10.0,
                  skip_cells: list[int] | None = None,
                  budget_seconds: float | None = None) -> dict[str, Any]:
    """Run the notebook's code cells in order as module ``name``; report cells that failed.

    The namespace is ``__main__``, as in Jupyter. Cells in ``skip_cells`` (those that ran
    out of time in an earlier worker) are not run again. ``budget_seconds``: the time all
    cells may take (see :func:`autograder.sandbox.cells.run_cells`).
    """
    path = state.scratch / file
    sources = cells.read_code_cells(path)
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    sys.modules[name] = module
    sys.modules["__main__"] = module
    records = cells.run_cells(sources, module, str(path), cell_seconds=cell_seconds,
                              skip=set(skip_cells or []), describe=state.describe,
                              progress=state.scratch / PROGRESS_FILE,
                              budget_seconds=budget_seconds)
    state.modules[name] = module
    state.notebook_failures[name] = [r for r in records if r["status"] in ("error", "timeout")]
    return {"symbols": sorted(k for k in vars(module) if not k.startswith("_")),
            "code_cells": len(sources), "records": records[:MAX_CELL_RECORDS],
            "more_records": max(0, len(records) - MAX_CELL_RECORDS)}
