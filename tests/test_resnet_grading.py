"""Grading the resnet assignment for real: reference, template, other styles, typical bugs.

The other styles and the typical bugs are the assignment's known-good and known-bad cases,
graded once by `validate resnet` (the session's `resnet_validation`)."""

from __future__ import annotations

import pytest

from autograder.judge.runner import Judge
from autograder.validate import Validation
from tests.conftest import ROOT, assert_full_marks, assert_graded, case_names, failing, statuses


def test_reference_gets_full_marks(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "reference" / "resnet")
    assert_full_marks(report)
    assert report.task("BasicBlock").score == report.task("BasicBlock").max_score == 10
    assert report.task("ResNet").score == report.task("ResNet").max_score == 10
    assert report.environment.sandbox.startswith("worker processes")


def test_untouched_template_gets_zero(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "student_template" / "resnet")
    assert_graded(report)
    assert report.task("BasicBlock").score == 0
    assert report.task("ResNet").score == 0
    problems = failing(report)
    assert "BasicBlock(8, 8) has no parameters" in problems["test_constructor"]
    assert problems["test_output_shape[8 to 8 channels, stride 1]"].startswith(
        "forward returned NoneType, not a tensor")
    assert "returned a NoneType, not a torch.nn.Module" in problems["test_resnet18_factory"]


@pytest.mark.parametrize("case", case_names("resnet", "good"))
def test_known_good_cases_get_full_marks(resnet_validation: Validation, case: str) -> None:
    """Correct solutions and tests in other styles (assignments/resnet/cases/good): every
    check gives full marks, whatever the names, order, ReLU style or test recipe."""
    report = resnet_validation.cases[f"good/{case}"]
    assert_full_marks(report)
    assert report.max_score == 30
    assert report.problems == []


def test_example_in_another_style_gets_full_marks(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "examples" / "resnet" / "good_student")
    assert_full_marks(report)


# The known-bad implementation cases (assignments/resnet/cases/bad): the checks that must
# fail (by check id) and a phrase their feedback must contain. Which tasks lose and keep
# points is each case's case.toml, which `validate` verifies.
BAD_CASE_FEEDBACK = {
    "missing_projection": {
        "test_shortcut_structure": "found no 1x1 convolution",
        "test_projection_block[train]": "expected 1 × a 1x1 convolution"},
    "shortcut_without_batchnorm": {
        "test_shortcut_structure": "must be followed by a BatchNorm2d",
        "test_projection_block[eval]": "BatchNorm2d over 32 channels"},
    "relu_before_addition": {
        "test_identity_block[train]": "applies ReLU to the main path before adding",
        "test_projection_block[eval]": "differs from the expected values"},
    "bias_in_convolution": {"test_no_bias_in_convolutions": "has a bias: pass bias=False"},
    "stride_on_second_conv": {
        "test_projection_block[train]":
            "(a 3x3 convolution from 16 to 32 channels) has stride 1, expected 2"},
    "missing_final_relu": {"test_identity_block[eval]": "returns the sum without the final ReLU"},
    "stages_in_python_list": {
        "test_layers_registered": "not registered as a submodule",
        "test_parameter_count": "fewer",
        "test_matches_torchvision": "Keep layers in nn.Sequential or nn.ModuleList"},
    "kaiming_fan_in": {"test_kaiming_initialisation": "mode='fan_in'"},
    "batchnorm_weight_zero": {"test_batchnorm_initialisation": "weight must start at 1"},
    "head_ignores_num_classes": {"test_output_shapes": "expected (2, 10)"},
    "constructor_needs_fourth_argument": {"test_constructor": "it also needs `norm_layer`"},
}


def test_every_bad_implementation_case_has_expected_feedback() -> None:
    implementation = [c for c in case_names("resnet", "bad")
                      if (ROOT / "assignments" / "resnet" / "cases" / "bad" / c / "resnet.py").exists()]
    assert sorted(BAD_CASE_FEEDBACK) == implementation


@pytest.mark.parametrize("case", sorted(BAD_CASE_FEEDBACK))
def test_bad_case_loses_points_on_the_right_check(resnet_validation: Validation, case: str) -> None:
    report = resnet_validation.cases[f"bad/{case}"]
    problems = failing(report)
    for check, phrase in BAD_CASE_FEEDBACK[case].items():
        assert check in problems, f"{check} should fail for {case}: {problems}"
        assert phrase in problems[check], problems[check]
    assert 0 < report.score < report.max_score
    row = next(r for r in resnet_validation.rows if r.subject == f"bad case {case}")
    assert row.ok, row.detail  # the tasks its case.toml names lose, the others keep


def test_grading_twice_gives_identical_scores(resnet_judge: Judge) -> None:
    path = ROOT / "examples" / "resnet" / "buggy_student"
    first, second = resnet_judge.grade(path), resnet_judge.grade(path)
    def scores(report):
        return [(task.name, task.score, [(t.name, t.score, t.status, t.feedback) for t in task.tests])
                for task in report.tasks]

    assert first.score == second.score
    assert scores(first) == scores(second)
    assert statuses(first) == statuses(second)
