"""bdscan: hard-label backdoor scanning (Model X-ray) and remediation (BURN) for ONNX classifiers."""

__version__ = "0.1.0"
