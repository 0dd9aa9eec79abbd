"""Match a student's model to a reference by structure, never by attribute name.

Both sides are traced (see :func:`autograder.operations.introspect.trace_forward`): the
leaves that hold parameters, in the order they run. Convolutions and linear layers are
paired by kind, channel counts and kernel size, in execution order; each BatchNorm is
paired through the layer that feeds it. So ``shortcut``/``downsample``/``skip``, an
``nn.Sequential`` main path, or parameters registered in another order all match, and a
real difference is described in words ("found no 1x1 convolution ...").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from autograder.checks.errors import CheckFailed

Leaf = dict[str, Any]
_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm"}


def _holds_state(leaf: Leaf) -> bool:
    return bool(leaf["params"] or leaf["buffers"])


def _pair(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def match_key(leaf: Leaf) -> tuple[Any, ...]:
    config = leaf["config"]
    kind = leaf["kind"]
    if kind.startswith("Conv"):
        return (kind, config.get("in_channels"), config.get("out_channels"),
                _pair(config.get("kernel_size")), config.get("groups"))
    if kind == "Linear":
        return (kind, config.get("in_features"), config.get("out_features"))
    if kind in _NORMS:
        return (kind, config.get("num_features"), _pair(config.get("normalized_shape")))
    return (kind, tuple(sorted((n, tuple(s)) for n, s in leaf["params"].items())))


def describe(leaf: Leaf) -> str:
    """A leaf in words: 'a 3x3 convolution from 64 to 128 channels with stride 2'."""
    config = leaf["config"]
    kind = leaf["kind"]
    if kind.startswith("Conv"):
        kernel = config.get("kernel_size")
        size = "x".join(str(k) for k in kernel) if isinstance(kernel, list) else str(kernel)
        stride = config.get("stride")
        stride_value = max(stride) if isinstance(stride, list) else stride
        text = (f"a {size} convolution from {config.get('in_channels')} to "
                f"{config.get('out_channels')} channels")
        return text + (f" with stride {stride_value}" if stride_value and stride_value != 1 else "")
    if kind == "Linear":
        return f"a Linear layer from {config.get('in_features')} to {config.get('out_features')} features"
    if kind in _NORMS:
        return f"a {kind} over {config.get('num_features')} channels"
    return f"a {kind} layer"


@dataclass
class Match:
    pairs: list[tuple[Leaf, Leaf]]  # (reference leaf, student leaf)

    def transplant_names(self) -> dict[str, str]:
        """student parameter/buffer name -> reference name, for every matched tensor."""
        names: dict[str, str] = {}
        for ref, stu in self.pairs:
            for group in ("params", "buffers"):
                ref_items = list(ref[group].items())
                stu_items = dict(stu[group])
                for index, (ref_name, shape) in enumerate(ref_items):
                    if ref_name in stu_items and stu_items[ref_name] == shape:
                        own = ref_name
                    else:  # a custom layer naming its tensors differently: same shape, same order
                        candidates = [n for n, s in stu[group].items() if s == shape]
                        if index >= len(candidates):
                            continue
                        own = candidates[index]
                    names[_qualified(stu["name"], own)] = _qualified(ref["name"], ref_name)
        return names

    def config_differences(self) -> list[str]:
        """Stride and padding differences between matched layers, in words. (A bias is
        transplanted as zero, so it cannot change outputs; its own check reports it.)"""
        notes = []
        for ref, stu in self.pairs:
            for field in ("stride", "padding"):
                ref_value, stu_value = ref["config"].get(field), stu["config"].get(field)
                if field in ref["config"] and ref_value != stu_value:
                    notes.append(f"your `{stu['name'] or stu['type']}` ({describe(stu)}) has "
                                 f"{field} {_plain(stu_value)}, expected {_plain(ref_value)}")
        return notes


def _plain(value: Any) -> str:
    if isinstance(value, list) and len(set(value)) == 1:
        return str(value[0])
    return str(value)


def _qualified(module: str, tensor: str) -> str:
    return f"{module}.{tensor}" if module else tensor


def _first_runs(trace: list[Leaf]) -> tuple[list[Leaf], dict[int, int]]:
    """Leaves that hold state, each once (first run), and trace index -> position."""
    seen: dict[str, int] = {}
    leaves: list[Leaf] = []
    position: dict[int, int] = {}
    for index, leaf in enumerate(trace):
        if not _holds_state(leaf):
            continue
        key = leaf["name"] if leaf["registered"] else f"<unregistered {index}>"
        if key in seen:
            position[index] = seen[key]
            continue
        seen[key] = len(leaves)
        position[index] = len(leaves)
        leaves.append(leaf)
    return leaves, position


def _state_producer(trace: list[Leaf], index: int | None, position: dict[int, int]) -> int | None:
    """Position of the nearest state-holding leaf upstream of ``trace[index]``'s input."""
    hops = 0
    while index is not None and hops < 4:
        if index in position:
            return position[index]
        index = trace[index].get("producer")
        hops += 1
    return None


def match_structure(reference: list[Leaf], student: list[Leaf], what: str) -> Match:
    """Pair every reference leaf with a student leaf, or raise :class:`CheckFailed`."""
    unregistered = [leaf for leaf in student if not leaf["registered"] and _holds_state(leaf)]
    if unregistered:
        raise CheckFailed(
            f"{what}: {describe(unregistered[0])} runs in forward but is not registered as a "
            "submodule, so its parameters are invisible to .parameters(), the optimiser and "
            "state_dict. Keep layers in nn.Sequential or nn.ModuleList, not a Python list.")
    ref_leaves, ref_pos = _first_runs(reference)
    stu_leaves, stu_pos = _first_runs(student)
    ref_producer = [_state_producer(reference, leaf.get("producer"), ref_pos) for leaf in ref_leaves]
    stu_producer = [_state_producer(student, leaf.get("producer"), stu_pos) for leaf in stu_leaves]

    groups_ref: dict[tuple, list[int]] = defaultdict(list)
    groups_stu: dict[tuple, list[int]] = defaultdict(list)
    for i, leaf in enumerate(ref_leaves):
        groups_ref[match_key(leaf)].append(i)
    for i, leaf in enumerate(stu_leaves):
        groups_stu[match_key(leaf)].append(i)

    problems = []
    for key in list(groups_ref) + [k for k in groups_stu if k not in groups_ref]:
        want, have = len(groups_ref.get(key, [])), len(groups_stu.get(key, []))
        if want != have:
            sample = ref_leaves[groups_ref[key][0]] if want else stu_leaves[groups_stu[key][0]]
            problems.append(f"expected {want} × {describe(sample)}, found {have}")
    if not stu_leaves:
        raise CheckFailed(f"{what} has no layers with parameters: create its layers in "
                          "__init__ and use them in forward")
    if problems:
        shown = problems[:4] + ([f"and {len(problems) - 4} more differences"]
                                if len(problems) > 4 else [])
        raise CheckFailed(f"{what} does not have the expected layers: " + "; ".join(shown) + ".")

    mapping: dict[int, int] = {}
    for key, ref_indices in groups_ref.items():
        if key[0] in _NORMS:
            continue
        mapping.update(zip(ref_indices, groups_stu[key], strict=True))
    for key, ref_indices in groups_ref.items():
        if key[0] not in _NORMS:
            continue
        free = list(groups_stu[key])
        pending = []
        for r in ref_indices:  # a norm goes with the norm fed by the matched layer
            fed_by = mapping.get(ref_producer[r]) if ref_producer[r] is not None else None
            chosen = next((s for s in free if fed_by is not None and stu_producer[s] == fed_by), None)
            if chosen is None:
                pending.append(r)
            else:
                mapping[r] = chosen
                free.remove(chosen)
        mapping.update(zip(pending, free, strict=True))
    return Match([(ref_leaves[r], stu_leaves[s]) for r, s in sorted(mapping.items())])
