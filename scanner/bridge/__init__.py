"""ONNX <-> PyTorch, the one bridge between the scanner's graphs and the white-box repair:

- `convert`: an ONNX classifier to a PyTorch module (onnx2torch plus this project's converters in
  `_converters`), checked against onnxruntime on real samples, and the input layout it takes;
- `compare`: how far two models' outputs are apart (the check both directions use);
- `export`: a repaired module back to a drop-in ONNX file (same inputs, outputs and batch
  dimensions as the original), checked in the worker and written atomically.

It imports the scanner's backends and errors; remediation imports it; nothing here imports
remediation or the exporters.
"""
