"""The sandbox: the zygote, its workers and the protocol between them and the judge."""

# What a zygote imports beyond torch unless told otherwise (an assignment's ``preload``):
# torchvision, and torch._dynamo, which torch loads the first time an optimiser steps or a
# model on the meta device is initialised with a random init: seconds in each worker if not here.
DEFAULT_PRELOAD = ("torchvision", "torch._dynamo")
