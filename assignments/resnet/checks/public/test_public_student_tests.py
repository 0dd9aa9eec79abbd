"""Public feedback on the two tests students write: does the test run and pass on a correct
BasicBlock, and does it catch one published bug? Weight 0: the hidden checks, which try bugs
that stay unseen, decide the points.

The correct block is torchvision's (support.py, behind the exercise's constructor); each
published bug is a small change to it, also in support.py.
"""

import pytest

from autograder.checks import check_test_catches_published_bug, check_test_passes_on_stand_in

RESIDUAL = "test_residual_addition_happens"
BATCHNORM = "test_batchnorm_train_vs_eval"
CORRECT = {"BasicBlock": "BasicBlock"}  # resnet's BasicBlock is support.py's BasicBlock

pytestmark = pytest.mark.weight(0)


@pytest.mark.task(RESIDUAL)
def test_residual_test_passes_on_a_correct_block(ctx):
    """Your test runs and passes on a correct BasicBlock"""
    check_test_passes_on_stand_in(ctx, RESIDUAL, CORRECT)


@pytest.mark.task(BATCHNORM)
def test_batchnorm_test_passes_on_a_correct_block(ctx):
    """Your test runs and passes on a correct BasicBlock"""
    check_test_passes_on_stand_in(ctx, BATCHNORM, CORRECT)


# One published bug per test (the check's name shows it): task, support symbol, the bug in
# full, and how a test catches it.
PUBLISHED = [
    pytest.param(RESIDUAL, "BlockWithoutShortcut",
                 "the block forgets the shortcut (it returns relu of the main path alone)",
                 "zero the convolution weights and compare the output with relu(input), as "
                 "the exercise's steps say",
                 marks=pytest.mark.task(RESIDUAL), id="the block forgets the shortcut"),
    pytest.param(BATCHNORM, "BlockStuckInTrainMode",
                 "the block ignores .eval() (its BatchNorm always uses the batch's statistics)",
                 "run the same input in train mode and in eval mode and assert that the "
                 "outputs differ",
                 marks=pytest.mark.task(BATCHNORM), id="the block ignores .eval()"),
]


@pytest.mark.parametrize("task, bug, described, hint", PUBLISHED)
def test_catches_the_published_bug(ctx, task, bug, described, hint):
    """Your test catches the published bug"""
    check_test_catches_published_bug(ctx, task, CORRECT, {"BasicBlock": bug}, described, hint)
