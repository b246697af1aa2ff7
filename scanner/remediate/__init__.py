"""Backdoor removal for ONNX classifiers: convert to PyTorch, repair (BURN or a baseline), export.

Pipeline: `scanner.bridge.convert` (ONNX -> PyTorch, checked against onnxruntime) -> `boundary`
+ `burn` (or `baselines`) -> `scanner.bridge.export` (a drop-in ONNX replacement). Needs the `torch`
extra and onnx2torch; importing this package stays light, the heavy modules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.remediate.api import METHODS, RemediationReport, RemediationRun, remediate
    from scanner.remediate.baselines import CleanUnlearnConfig, NCConfig
    from scanner.remediate.config import BurnConfig

__all__ = [
    "METHODS",
    "BurnConfig",
    "CleanUnlearnConfig",
    "NCConfig",
    "RemediationReport",
    "RemediationRun",
    "remediate",
]

_LOCATIONS = {
    "METHODS": "scanner.remediate.api",
    "RemediationReport": "scanner.remediate.api",
    "RemediationRun": "scanner.remediate.api",
    "remediate": "scanner.remediate.api",
    "BurnConfig": "scanner.remediate.config",
    "NCConfig": "scanner.remediate.baselines",
    "CleanUnlearnConfig": "scanner.remediate.baselines",
}


def __getattr__(name: str) -> Any:
    # torch is imported only when a remediation name is first used, so `bdscan scan` never pays
    # for it and a missing torch is reported where it matters.
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'scanner.remediate' has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(_LOCATIONS[name])
    except ImportError as e:
        from scanner.errors import UsageError

        raise UsageError(
            f"remediation needs PyTorch and onnx2torch ({e}); install the 'torch' extra"
            " and onnx2torch (see the Makefile)"
        ) from None
    return getattr(module, name)
