"""Hidden checks for set_seed: after set_seed(s), draws from Python's random, NumPy and torch
equal those the reference's set_seed(s) gives.

The student's set_seed and the draws run in one worker call (the support code's
``draws_after``), so nothing reseeds in between; the judge draws after the reference's
set_seed with the same support code.
"""

import pytest

from autograder.checks import CheckFailed, known_bugs_like, with_hints

pytestmark = pytest.mark.task("set_seed")

SEEDS = (7, 1234)
SOURCES = {
    "random": ("Python's random", "random.seed(seed)"),
    "numpy": ("NumPy", "np.random.seed(seed)"),
    "torch": ("torch", "torch.manual_seed(seed)"),
}


def reference_draws(ctx, module, seed):
    module.set_seed(seed)
    return ctx.support.draws()


def student_draws(ctx, student, seed):
    return student.support_call("draws_after", student.symbol("set_seed"), seed)["value"]


@pytest.mark.parametrize("source", list(SOURCES), ids=list(SOURCES))
def test_draws_match_reference(ctx, student, reference, source):
    """After set_seed(s), draws equal the reference's"""
    name, call = SOURCES[source]
    for seed in SEEDS:
        got = student_draws(ctx, student, seed)
        expected = ctx.cache.get(f"draws:{seed}",
                                 lambda seed=seed: reference_draws(ctx, reference, seed))
        if not isinstance(got, dict) or got.get(source) != expected[source]:
            hints = known_bugs_like(
                ctx, "set_seed", f"set_seed:{seed}",
                lambda m, seed=seed: reference_draws(ctx, m, seed),
                lambda result, got=got: isinstance(result, dict)
                and result.get(source) == got.get(source))
            raise CheckFailed(with_hints(
                f"after set_seed({seed}), draws from {name} are not those of a run seeded with "
                f"{seed}: set_seed must call {call} with the seed it is given", hints))
