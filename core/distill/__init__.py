"""Local distillation: hashed n-gram features, the soft-target trainer and the student's npz/json artifact.

Import from the submodules (`core.distill.trainer`, `core.distill.artifact`, `core.distill.features`);
this package file stays empty so that importing a sibling does not pull in scikit-learn.
"""
