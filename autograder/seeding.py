"""Seeding torch's random numbers: ``torch.manual_seed``, without its cost on a CPU-only machine.

``torch.manual_seed`` also queues the seed of each accelerator backend (CUDA, XPU, MTIA) that
is not initialised yet, and formats the whole call stack for each, for a message should that
backend fail later: three stack formats a call, milliseconds under pytest's deep stacks, a
third of the judge's own time on a submission whose checks build many models. Where torch
sees no such device, the CPU generator is the only one there is to seed, and seeding it
alone gives the same numbers.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def _accelerator_present() -> bool:
    # Device counts, not is_available(): the count comes from NVML where it can, without
    # initialising CUDA, so a zygote that asks can still fork workers that use CUDA.
    mtia = getattr(torch, "mtia", None)
    return (torch.cuda.device_count() > 0 or torch.xpu.device_count() > 0
            or bool(mtia is not None and mtia.is_available()))


def manual_seed(seed: int) -> None:
    """What ``torch.manual_seed(seed)`` does, cheaply where no accelerator is present."""
    if _accelerator_present():
        torch.manual_seed(seed)
    else:
        torch.random.default_generator.manual_seed(int(seed))
