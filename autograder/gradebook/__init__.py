"""The class gradebook: every graded result in SQLite, keyed by submission content and the
grader's fingerprint, so reruns grade only what is new or what a changed grader affects.

``fingerprint`` and ``store`` import neither torch nor the judge (a rerun with nothing to do
answers at once); ``run`` is the entry point that grades (through :mod:`autograder.api`),
``stats`` and ``exports`` read the store.
"""
