"""Rebuild reference/nn_module/nn_module.ipynb from seed 001 (the "Module 1.3" notebook text).

Run once by hand (the .ipynb is committed; this script documents how it was made)::

    .venv/bin/python scripts/build_nn_module_notebook.py /work/shared/seeds/001_f71fab9d5bdcca51.txt

Teaching cells are kept and locked; each exercise cell is solved inside nbgrader solution
regions with the seed's own solution code; a read-only grade cell per task follows it; the
seed's separate "Solutions" section is dropped (its code now lives in the exercise cells).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "reference" / "nn_module" / "nn_module.ipynb"
POINTS = {"CustomLinear": 10, "FeatureExtractor": 10, "LearnedNorm": 10}

EXERCISES = {
    "CustomLinear": '''\
class CustomLinear(nn.Module):
    """
    Implement a linear layer: output = input @ weight.T + bias

    Args:
        in_features: size of input
        out_features: size of output
        bias: whether to include bias term
    """
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        # 1. Create weight as nn.Parameter with shape (out_features, in_features)
        # 2. Create bias as nn.Parameter with shape (out_features,) if bias=True,
        #    else leave it None: self.register_parameter('bias', None)
        # 3. Initialize weight with Kaiming uniform, a=math.sqrt(5) (as nn.Linear does)
        # 4. Initialize bias uniformly in [-1/sqrt(in_features), 1/sqrt(in_features)]
        ### BEGIN SOLUTION
        self.in_features = in_features
        self.out_features = out_features

        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features))
        else:
            self.register_parameter('bias', None)

        # Initialize
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)
        ### END SOLUTION

    def forward(self, x):
        # output = x @ weight.T, plus bias when there is one
        ### BEGIN SOLUTION
        output = x @ self.weight.T
        if self.bias is not None:
            output = output + self.bias
        return output
        ### END SOLUTION
''',
    "FeatureExtractor": '''\
class FeatureExtractor:
    """
    Extract features from specified layers of a model.

    Usage:
        model = create_model()
        extractor = FeatureExtractor(model, ['layer1', 'layer2.relu'])
        output = model(x)
        features = extractor.get_features()  # Dict of layer_name -> activation
    """
    def __init__(self, model, layer_names):
        self.model = model
        self.layer_names = layer_names
        self.features = {}
        self.handles = []

        # 1. For each layer_name (dotted, like '0' or 'layer1.0.relu'), get the module
        # 2. Register a forward hook that saves the module's output, detached from the
        #    autograd graph, in self.features[layer_name]
        # 3. Store the handle so remove_hooks() can remove the hook later
        ### BEGIN SOLUTION
        for name in layer_names:
            # Navigate to the module
            module = model
            for part in name.split('.'):
                if part.isdigit():
                    module = module[int(part)]
                else:
                    module = getattr(module, part)

            # Register hook
            handle = module.register_forward_hook(self._make_hook(name))
            self.handles.append(handle)

    def _make_hook(self, name):
        def hook(module, input, output):
            self.features[name] = output.detach()
        return hook
        ### END SOLUTION

    def get_features(self):
        return self.features

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()
''',
    "LearnedNorm": '''\
class LearnedNorm(nn.Module):
    """
    A layer that learns per-feature normalization.

    For each feature i:
        output[..., i] = (input[..., i] - learned_mean[i]) / (learned_std[i] + eps)

    Both mean and std are learnable parameters.

    Args:
        num_features: number of features
        eps: small constant for numerical stability
    """
    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        # 1. Create learned_mean as Parameter, initialized to zeros
        # 2. Create learned_std as Parameter, initialized to ones
        ### BEGIN SOLUTION
        self.learned_mean = nn.Parameter(torch.zeros(num_features))
        self.learned_std = nn.Parameter(torch.ones(num_features))
        ### END SOLUTION

    def forward(self, x):
        # Normalize: (x - learned_mean) / (learned_std + eps)
        ### BEGIN SOLUTION
        return (x - self.learned_mean) / (self.learned_std + self.eps)
        ### END SOLUTION
''',
}

TRIES = {
    "CustomLinear": '''\
# Try your layer (read-only; the grader's hidden checks test much more than this)
layer = CustomLinear(10, 5)
x = torch.randn(3, 10)
y = layer(x)
print(f"Output shape: {y.shape}")  # Should be (3, 5)
print(f"Parameters: {[n for n, p in layer.named_parameters()]}")
assert y.shape == (3, 5)
assert {n for n, _ in layer.named_parameters()} == {'weight', 'bias'}
''',
    "FeatureExtractor": '''\
# Try your extractor (read-only; the grader's hidden checks test much more than this)
model = nn.Sequential(
    nn.Linear(10, 20),
    nn.ReLU(),
    nn.Linear(20, 5)
)
extractor = FeatureExtractor(model, ['0', '1'])
output = model(torch.randn(3, 10))
features = extractor.get_features()
print(f"Extracted features: {list(features.keys())}")
for name, feat in features.items():
    print(f"  {name}: {feat.shape}")
extractor.remove_hooks()
assert set(features) == {'0', '1'} and features['1'].shape == (3, 20)
''',
    "LearnedNorm": '''\
# Try your layer (read-only; the grader's hidden checks test much more than this)
layer = LearnedNorm(10)
x = torch.randn(5, 10) * 2 + 3  # Offset distribution
y = layer(x)
print(f"Input mean: {x.mean():.4f}, std: {x.std():.4f}")
print(f"Output mean (before training): {y.mean():.4f}")
print(f"Learnable parameters: {[n for n, p in layer.named_parameters()]}")
assert {n for n, _ in layer.named_parameters()} == {'learned_mean', 'learned_std'}
assert torch.allclose(y, x / (1 + 1e-5))
''',
}

# Teaching cells of the seed that fail as printed, and how they are fixed here: load_state_dict
# with strict=False skips missing and unexpected keys, but a shape mismatch still raises.
FIXES = [(
    """# New model with extra layer
model2 = nn.Sequential(
    nn.Linear(10, 20),
    nn.Linear(20, 15),  # Different!
    nn.Linear(15, 5)    # Extra layer
)

# This would fail with strict=True
""",
    """# New model with extra layer
model2 = nn.Sequential(
    nn.Linear(10, 20),
    nn.Linear(20, 5),
    nn.Linear(5, 3)     # Extra layer
)

# This would fail with strict=True (missing keys). strict=False loads the keys that match;
# a shape mismatch (say nn.Linear(20, 15) as the second layer) would still raise an error.
""",
)]

_CODE_END = re.compile(r"^(---|##)")


def parse_seed(text: str) -> list[tuple[str, str]]:
    """(kind, source) cells: code after each 'In [None]:' line, markdown in between.

    A code cell ends where a blank line is followed by a horizontal rule or a heading.
    """
    cells: list[tuple[str, list[str]]] = []
    kind = "markdown"
    lines: list[str] = []
    previous_blank = False
    for line in text.splitlines():
        if line.strip() == "In [None]:":
            cells.append((kind, lines))
            kind, lines = "code", []
        elif kind == "code" and previous_blank and _CODE_END.match(line):
            cells.append((kind, lines))
            kind, lines = "markdown", [line]
        else:
            lines.append(line)
        previous_blank = not line.strip()
    cells.append((kind, lines))
    return [(k, "\n".join(ls).strip("\n")) for k, ls in cells if "\n".join(ls).strip()]


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def build(seed_text: str) -> nbformat.NotebookNode:
    cells = []
    counter = 0

    def add(kind: str, source: str, grade_id: str | None = None, **flags: object) -> None:
        nonlocal counter
        counter += 1
        grade_id = grade_id or f"teaching-{counter:02d}"
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        cell = make(source, id=grade_id.lower().replace("_", "-"),
                    metadata=_meta(grade_id, **flags))
        cells.append(cell)

    exercise = None
    for old, new in FIXES:
        assert seed_text.count(old) == 1, old
        seed_text = seed_text.replace(old, new)
    for kind, source in parse_seed(seed_text):
        if source.startswith("---\n## Solutions"):
            exercise = "solutions"
            continue
        if exercise == "solutions":
            if kind == "code":
                continue  # the seed's solutions moved into the exercise cells
            exercise = None
        match = re.search(r"^class (CustomLinear|FeatureExtractor|LearnedNorm)\b", source, re.M)
        if kind == "code" and match:
            task = match.group(1)
            add("code", EXERCISES[task].rstrip("\n"), f"{task}_solution", solution=True)
            add("code", TRIES[task].rstrip("\n"), task, grade=True, locked=True,
                points=POINTS[task])
            continue
        add(kind, source, locked=True)
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    seed = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/seeds/001_f71fab9d5bdcca51.txt")
    notebook = build(seed.read_text())
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(nbformat.writes(notebook) + "\n")
    print(f"wrote {TARGET} ({len(notebook.cells)} cells)")


if __name__ == "__main__":
    main()
