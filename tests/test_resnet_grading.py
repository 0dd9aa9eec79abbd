"""Grading the resnet assignment for real: reference, template, other styles, typical bugs."""

from __future__ import annotations

import pytest

from autograder.judge.runner import Judge
from autograder.report.model import Report
from tests.conftest import ROOT, failing, mutate, reference_source, statuses

REF = reference_source()


# The reference's tests complete each submission, so only resnet.py is under test.
TESTS = (ROOT / "reference" / "resnet" / "test_resnet.py").read_text()


def grade_source(judge: Judge, make_submission, source: str) -> Report:
    return judge.grade(make_submission({"resnet.py": source, "test_resnet.py": TESTS}))


def test_reference_gets_full_marks(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "reference" / "resnet")
    assert failing(report) == {}
    assert report.task("BasicBlock").score == report.task("BasicBlock").max_score == 10
    assert report.task("ResNet").score == report.task("ResNet").max_score == 10
    assert report.environment.sandbox.startswith("worker processes")


def test_untouched_template_gets_zero(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "student_template" / "resnet")
    assert report.task("BasicBlock").score == 0
    assert report.task("ResNet").score == 0
    feedback = " ".join(failing(report).values())
    assert "returned a NoneType" in feedback or "no parameters" in feedback


STYLES = {
    # BasicBlock written with `downsample`, registered before conv1, no `expansion`,
    # F.relu, the main path in one nn.Sequential.
    "sequential_downsample_first": '''
import torch.nn.functional as F
from torch import nn
class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))
        else:
            self.downsample = nn.Identity()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels))
    def forward(self, x):
        return F.relu(self.main(x) + self.downsample(x))
''',
    # `skip` computed first, ReLU modules with inplace=True, `out += ...`, expansion present.
    "skip_first_inplace": '''
import torch
from torch import nn
class BasicBlock(nn.Module):
    expansion = 1
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.skip = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.skip.add_module("proj", nn.Conv2d(in_channels, out_channels, 1, stride, bias=False))
            self.skip.add_module("bn", nn.BatchNorm2d(out_channels))
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.act1 = nn.ReLU(inplace=True)
        self.act2 = nn.ReLU(inplace=True)
    def forward(self, x):
        identity = self.skip(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.act2(out)
''',
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_other_correct_styles_get_full_marks(resnet_judge: Judge, make_submission, style: str) -> None:
    network = REF[REF.index("class ResNet"):]
    source = STYLES[style] + "\n" + "import torch\n" + network
    report = grade_source(resnet_judge, make_submission, source)
    assert failing(report) == {}, failing(report)
    assert report.score == report.max_score == 30


def test_example_in_another_style_gets_full_marks(resnet_judge: Judge) -> None:
    report = resnet_judge.grade(ROOT / "examples" / "resnet" / "good_student")
    assert failing(report) == {}


def test_expansion_attribute_absent_is_fine(resnet_judge: Judge, make_submission) -> None:
    report = grade_source(resnet_judge, make_submission, mutate(REF, "    expansion = 1\n", ""))
    assert failing(report) == {}


# Each bug: the change, the checks that must fail (by check id), a phrase their feedback
# must contain, and the task that must keep full marks.
BUGS = {
    "missing_projection": (
        ("        if stride != 1 or in_channels != out_channels:\n"
         "            self.shortcut = nn.Sequential(\n",
         "        if False:\n            self.shortcut = nn.Sequential(\n"),
        {"test_shortcut_structure": "found no 1x1 convolution",
         "test_projection_block[train]": "expected 1 × a 1x1 convolution"},
        "ResNet"),
    "shortcut_without_bn": (
        ("                nn.BatchNorm2d(out_channels),\n            )",
         "            )"),
        {"test_shortcut_structure": "must be followed by a BatchNorm2d",
         "test_projection_block[eval]": "BatchNorm2d over 32 channels"},
        "ResNet"),
    "relu_before_addition": (
        ("out = self.bn2(self.conv2(out))", "out = self.relu(self.bn2(self.conv2(out)))"),
        {"test_identity_block[train]": "applies ReLU to the main path before adding",
         "test_projection_block[eval]": "differs from the expected values"},
        "ResNet"),
    "bias_in_convolutions": (
        ("kernel_size=3, stride=stride,\n                               padding=1, bias=False)",
         "kernel_size=3, stride=stride,\n                               padding=1, bias=True)"),
        {"test_no_bias_in_convolutions": "has a bias: pass bias=False"},
        "ResNet"),
    "stride_on_second_conv": (
        ("kernel_size=3, stride=stride,\n                               padding=1, bias=False)\n"
         "        self.bn1 = nn.BatchNorm2d(out_channels)\n        self.relu = nn.ReLU(inplace=True)\n"
         "        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1,",
         "kernel_size=3, stride=1,\n                               padding=1, bias=False)\n"
         "        self.bn1 = nn.BatchNorm2d(out_channels)\n        self.relu = nn.ReLU(inplace=True)\n"
         "        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=stride,"),
        {"test_projection_block[train]":
         "(a 3x3 convolution from 16 to 32 channels) has stride 1, expected 2"},
        "ResNet"),
    "missing_final_relu": (
        ("        out = out + self.shortcut(x)\n        return self.relu(out)",
         "        out = out + self.shortcut(x)\n        return out"),
        {"test_identity_block[eval]": "returns the sum without the final ReLU"},
        "ResNet"),
    "python_list_of_blocks": (
        ("        return nn.Sequential(*layers)", "        return layers"),
        {"test_layers_registered": "not registered as a submodule",
         "test_parameter_count": "fewer",
         "test_matches_torchvision": "Keep layers in nn.Sequential or nn.ModuleList"},
        "BasicBlock"),
    "wrong_init_fan_in": (
        ('mode="fan_out"', 'mode="fan_in"'),
        {"test_kaiming_initialisation": "mode='fan_in'"},
        "BasicBlock"),
    "batchnorm_init_zero": (
        ("nn.init.constant_(module.weight, 1)", "nn.init.constant_(module.weight, 0)"),
        {"test_batchnorm_initialisation": "weight must start at 1"},
        "BasicBlock"),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_bug_loses_points_on_the_right_check(resnet_judge: Judge, make_submission, bug: str) -> None:
    (old, new), expected, intact_task = BUGS[bug]
    if bug == "python_list_of_blocks":  # the forward must iterate the plain list too
        source = mutate(mutate(REF, old, new), "x = self.layer4(self.layer3(self.layer2(self.layer1(x))))",
                        "for layer in (self.layer1, self.layer2, self.layer3, self.layer4):\n"
                        "            for block in layer:\n                x = block(x)")
    else:
        source = mutate(REF, old, new)
    report = grade_source(resnet_judge, make_submission, source)
    problems = failing(report)
    for check, phrase in expected.items():
        assert check in problems, f"{check} should fail for {bug}: {problems}"
        assert phrase in problems[check], problems[check]
    assert report.task(intact_task).score == report.task(intact_task).max_score, problems
    assert 0 < report.score < report.max_score


def test_grading_twice_gives_identical_scores(resnet_judge: Judge) -> None:
    path = ROOT / "examples" / "resnet" / "buggy_student"
    first, second = resnet_judge.grade(path), resnet_judge.grade(path)
    def scores(report):
        return [(task.name, task.score, [(t.name, t.score, t.status, t.feedback) for t in task.tests])
                for task in report.tasks]

    assert first.score == second.score
    assert scores(first) == scores(second)
    assert statuses(first) == statuses(second)


NETWORK_STYLES = {
    # Stateless layers made on the fly in forward are fine: nothing to register.
    "layers_made_in_forward": ("x = torch.flatten(self.avgpool(x), 1)",
                               "x = nn.Flatten()(nn.AdaptiveAvgPool2d(1)(x))"),
    # Code that reads values cannot run on the meta device; the grader falls back to the CPU.
    "reads_values": ("        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))",
                     "        assert torch.isfinite(x).all()\n"
                     "        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))"),
}


@pytest.mark.parametrize("style", sorted(NETWORK_STYLES))
def test_other_correct_network_styles_get_full_marks(resnet_judge: Judge, make_submission,
                                                     style: str) -> None:
    report = grade_source(resnet_judge, make_submission, mutate(REF, *NETWORK_STYLES[style]))
    assert failing(report) == {}, failing(report)
