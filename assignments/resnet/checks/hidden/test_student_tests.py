"""Hidden checks for the tests students write: one check per known bug (mutant) a test must
catch, so a test earns its task's points in proportion to the bugs it catches, and nothing
unless it passes against the reference. See :mod:`autograder.judge.mutation`."""

from pathlib import Path

import pytest

from autograder.checks import check_student_test, mutant_names

ASSIGNMENT = Path(__file__).resolve().parents[2]
RESIDUAL = "test_residual_addition_happens"
BATCHNORM = "test_batchnorm_train_vs_eval"


@pytest.mark.task(RESIDUAL)
@pytest.mark.parametrize("mutant", mutant_names(ASSIGNMENT, RESIDUAL))
def test_residual_test_catches(ctx, mutant):
    """Your test_residual_addition_happens passes on a correct BasicBlock and fails on a broken one"""
    check_student_test(ctx, RESIDUAL, mutant)


@pytest.mark.task(BATCHNORM)
@pytest.mark.parametrize("mutant", mutant_names(ASSIGNMENT, BATCHNORM))
def test_batchnorm_test_catches(ctx, mutant):
    """Your test_batchnorm_train_vs_eval passes on a correct BasicBlock and fails on a broken one"""
    check_student_test(ctx, BATCHNORM, mutant)
