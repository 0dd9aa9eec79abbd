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


@pytest.mark.task(RESIDUAL)
def test_residual_test_catches_the_published_bug(ctx):
    """Your test catches the published bug 'the block forgets the shortcut'"""
    check_test_catches_published_bug(ctx, RESIDUAL, CORRECT, {"BasicBlock": "BlockWithoutShortcut"},
                                     "the block forgets the shortcut (it returns relu of the "
                                     "main path alone)",
                                     "zero the convolution weights and compare the output with "
                                     "relu(input), as the exercise's steps say")


@pytest.mark.task(BATCHNORM)
def test_batchnorm_test_passes_on_a_correct_block(ctx):
    """Your test runs and passes on a correct BasicBlock"""
    check_test_passes_on_stand_in(ctx, BATCHNORM, CORRECT)


@pytest.mark.task(BATCHNORM)
def test_batchnorm_test_catches_the_published_bug(ctx):
    """Your test catches the published bug 'the block ignores .eval()'"""
    check_test_catches_published_bug(ctx, BATCHNORM, CORRECT, {"BasicBlock": "BlockStuckInTrainMode"},
                                     "the block ignores .eval() (its BatchNorm always uses the "
                                     "batch's statistics)",
                                     "run the same input in train mode and in eval mode and "
                                     "assert that the outputs differ")
