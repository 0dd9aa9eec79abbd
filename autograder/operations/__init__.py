"""What a worker can do with student code: one module per concept, one table of operations.

``models`` (trace, inspect, load weights, forward and backward), ``objects`` (import, call,
handles, methods, the assignment's support objects), ``notebooks`` (run code cells) and
``student_tests`` (call a student's test functions). Every operation takes the worker's
:class:`~autograder.operations.state.WorkerState`. This package is worker code: the zygote
imports it before any fork, and it never imports the judge.
"""

from autograder.operations import models, notebooks, objects, student_tests
from autograder.operations.registry import OPERATIONS, StudentFault
from autograder.operations.state import WorkerState

__all__ = ["OPERATIONS", "StudentFault", "WorkerState", "models", "notebooks", "objects",
           "student_tests"]
