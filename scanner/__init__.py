"""bdscan: hard-label backdoor scanning (Model X-ray) and repair (BURN) of ONNX classifiers."""

__version__ = "0.1.0"
