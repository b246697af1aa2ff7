"""Inference backends: each turns a model file into a hard-label `Backend` (see base.py)."""

from scanner.backends.base import Backend, InputSpec, LabelOracle

__all__ = ["Backend", "InputSpec", "LabelOracle"]
