"""autograder: grade PyTorch exercises with hidden checks against reference solutions."""

__version__ = "0.1.0"
