"""Running a notebook's cells (autograder.operations.cells) in-process: a plain-Python cell
compiled without IPython's transformer runs exactly as with it, IPython syntax still goes
through it, and the cell running now is on record for the judge's message."""

from __future__ import annotations

import types
import warnings
from pathlib import Path

import pytest

from autograder.operations import cells
from autograder.sandbox.session import StudentSession


def _run(sources: list[str], **options) -> tuple[types.ModuleType, list[dict]]:
    module = types.ModuleType("notebook")
    return module, cells.run_cells(sources, module, "nb", **options)


@pytest.mark.parametrize("source, expected", [
    # IPython's transformer empties a line of spaces (textwrap.dedent), inside strings too:
    # a cell runs as it ran in Jupyter, so the string holds an empty line.
    ('text = """a\n    \nb"""', "a\n\nb"),
    ('text = "plain"', "plain"),
    ("\n\ntext = 'after blank lines'", "after blank lines"),
    ("    text = 'indented cell'", "indented cell"),
    (">>> text = 'pasted prompt'", "pasted prompt"),
    ("In [3]: text = 'pasted IPython prompt'", "pasted IPython prompt"),
    ("%time text = 'magic'", "magic"),
    ("!echo shell escapes are ignored\ntext = 'after a shell escape'", "after a shell escape"),
    ("%%capture\ntext = 'cell magic'", "cell magic"),
])
def test_a_cell_runs_as_ipython_runs_it(source: str, expected: str) -> None:
    module, records = _run([source])
    assert records == [] and module.text == expected
    transformed: dict = {}
    exec(compile(cells.to_python(source), "cell", "exec"), {"get_ipython": lambda: cells.ShellStub(
        transformed, lambda code, suffix: exec(code, transformed))}, transformed)
    assert transformed["text"] == expected


def test_a_cell_that_is_not_python_reports_the_transformed_syntax_error() -> None:
    _, records = _run(["x = = 1", "x = (1"])
    assert [r["status"] for r in records] == ["error", "error"]
    assert all(r["error"]["type"] == "SyntaxError" for r in records)


def test_a_compile_warning_of_a_python_cell_is_given_once() -> None:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        cells.compile_cell("check = 1 is 1", "cell")
    assert [w.category for w in warned] == [SyntaxWarning]


@pytest.mark.parametrize("source", ['s = "a\u2028>>> b"', 's = "x\u2028In [1]: y"',
                                    's = """a\r>>> b"""', 's = "a\x0c   ...: b"',
                                    "s = 'plain'\r\nt = 1"])
@pytest.mark.filterwarnings("ignore:`make_tokens_by_line` received:UserWarning")  # IPython's own
def test_a_cell_with_other_line_breaks_is_what_the_transformer_makes_it(source: str) -> None:
    """IPython splits lines on more than "\n" (str.splitlines): a prompt after "\u2028" or
    "\r" is stripped there, so such a cell always goes through the transformer."""
    compiled: dict = {}
    exec(cells.compile_cell(source, "cell"), compiled)
    transformed: dict = {}
    exec(compile(cells.to_python(source), "cell", "exec"), transformed)
    assert compiled["s"] == transformed["s"]


def test_each_cell_sees_its_own_number_in_the_progress_file(tmp_path: Path) -> None:
    progress = tmp_path / ".notebook-progress"
    sources = ["seen = []"] + [f"seen.append(open({str(progress)!r}).read())"] * 11
    module, records = _run(sources, progress=progress)
    assert records == []
    assert [text.strip() for text in module.seen] == [str(n) for n in range(2, 13)]
    assert all(len(text) == 10 for text in module.seen)


def test_a_cell_that_closes_the_progress_file_breaks_nothing(tmp_path: Path) -> None:
    progress = tmp_path / ".notebook-progress"
    closer = ("import os\n"
              "for fd in os.listdir('/proc/self/fd'):\n"
              f"    if os.path.realpath(f'/proc/self/fd/{{fd}}') == {str(progress.resolve())!r}:\n"
              "        os.close(int(fd))")
    module, records = _run([closer, "after = True"], progress=progress)
    assert records == [] and module.after is True


def test_a_cells_own_file_on_the_progress_files_descriptor_is_left_alone(tmp_path: Path) -> None:
    """A cell that closes the progress file and opens a file of its own may get the same
    descriptor number: later cells do not write into that file, nor is it closed."""
    progress = tmp_path / ".notebook-progress"
    log = tmp_path / "log.txt"
    closer = ("import os\n"
              "for fd in os.listdir('/proc/self/fd'):\n"
              f"    if os.path.realpath(f'/proc/self/fd/{{fd}}') == {str(progress.resolve())!r}:\n"
              "        closed = int(fd)\n"
              "        os.close(closed)\n"
              f"log = open({str(log)!r}, 'w')\n"
              "assert log.fileno() == closed, (log.fileno(), closed)")
    module, records = _run([closer, "log.write('mine')", "log.flush()", "x = 1"],
                           progress=progress)
    assert records == []
    module.log.write(" still open")
    module.log.close()
    assert log.read_text() == "mine still open"


def test_a_folder_where_the_progress_file_goes_breaks_nothing(tmp_path: Path) -> None:
    progress = tmp_path / ".notebook-progress"
    progress.mkdir()
    module, records = _run(["ran = True"], progress=progress)
    assert records == [] and module.ran is True


@pytest.mark.parametrize("content, expected", [("12        ", 12), ("3", 3), ("", None),
                                               ("x         ", None)])
def test_the_judge_reads_the_running_cells_number(tmp_path: Path, content: str, expected) -> None:
    session = object.__new__(StudentSession)
    session.scratch = tmp_path
    (tmp_path / ".notebook-progress").write_text(content)
    assert session._running_cell() == expected
