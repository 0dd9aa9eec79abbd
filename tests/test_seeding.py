"""autograder.seeding.manual_seed: torch.manual_seed's numbers, without its stack formatting."""

from __future__ import annotations

import traceback

import pytest
import torch

from autograder import seeding


def test_the_same_numbers_as_torch_manual_seed() -> None:
    torch.manual_seed(123)
    expected = torch.randn(4), torch.initial_seed()
    torch.manual_seed(7)  # something else in between
    seeding.manual_seed(123)
    assert torch.equal(torch.randn(4), expected[0])
    assert torch.initial_seed() == expected[1]


@pytest.mark.skipif(seeding._accelerator_present(), reason="an accelerator is seeded too")
def test_no_call_stack_is_formatted_without_an_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    def formatted() -> list[str]:
        raise AssertionError("the call stack was formatted")

    monkeypatch.setattr(traceback, "format_stack", formatted)
    with pytest.raises(AssertionError, match="formatted"):  # what torch.manual_seed does
        torch.manual_seed(1)
    seeding.manual_seed(1)
