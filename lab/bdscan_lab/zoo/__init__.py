"""Model zoo: clean and backdoored classifiers trained on real data and exported to ONNX.

Used for tests, calibration and benchmarks of the scanner. The submodules that train or export
(`architectures`, `train`, `export`, `build`) import torch and need the `torch` extra; `datasets`
and `attacks` need only numpy, so this package's import stays light.

Entry point: `python -m bdscan_lab.zoo build --out zoo-out [--set core|full]`.
"""
