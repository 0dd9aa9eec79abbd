"""The check API: everything a check file imports comes from here.

A check is a pytest test in ``assignments/NAME/checks/{public,hidden}/`` taking the fixtures
``student`` (:class:`StudentCode`: the submission's code, in a worker), ``reference`` (the
reference module, in the judge) and ``ctx`` (:class:`GradingContext`). It raises
:class:`CheckFailed` with the feedback a student reads; a :class:`StudentError` (the student's
code raised) that escapes is reported as such.
"""

from autograder.checks.bugs import Raised, known_bugs_like, same_error, with_hints
from autograder.checks.compare import (
    ReferenceRun,
    assert_tensors_close,
    build_traced,
    compare_with_reference,
    difference_summary,
    explain_structure,
    known_bug_hints,
    output_shape,
    random_input,
    registered_leaves,
    run_reference,
    tensors_close,
    transplant,
)
from autograder.checks.context import GradingContext, JudgeCacheLike, MutantLike
from autograder.checks.errors import CheckFailed
from autograder.checks.parameters import (
    assign_or_fail,
    forward_backward,
    require_parameter,
    shape_text,
    unregistered_layers,
)
from autograder.checks.remote import RemoteModule, RemoteObject, StudentCode, call_text
from autograder.checks.structure import Match, describe, match_structure
from autograder.checks.student_tests import (
    check_student_test,
    check_test_catches_published_bug,
    check_test_passes_on_stand_in,
    mutant_names,
)
from autograder.operations.introspect import loss_weights, trace_forward
from autograder.sandbox.client import StudentError

__all__ = [
    "CheckFailed", "GradingContext", "JudgeCacheLike", "Match", "MutantLike", "Raised",
    "ReferenceRun", "RemoteModule", "RemoteObject", "StudentCode", "StudentError",
    "assert_tensors_close", "assign_or_fail", "build_traced", "call_text", "check_student_test",
    "check_test_catches_published_bug", "check_test_passes_on_stand_in",
    "compare_with_reference", "describe", "difference_summary", "explain_structure",
    "forward_backward", "known_bug_hints", "known_bugs_like", "loss_weights", "match_structure",
    "mutant_names", "output_shape", "random_input", "registered_leaves", "require_parameter",
    "run_reference", "same_error", "shape_text", "tensors_close", "trace_forward", "transplant",
    "unregistered_layers", "with_hints",
]
