"""An MLServer runtime serving an ONNX classifier with onnxruntime, for bdscan's endpoint tests.

Loaded by `mlserver start` from the model folder (it is copied there next to model-settings.json);
it counts every sample it answers in `answered.txt` beside the model, so a test can compare the
scanner's query count with what the server really answered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxClassifier(MLModel):
    async def load(self) -> bool:
        self._path = Path(self.settings.parameters.uri)
        self._sess = ort.InferenceSession(str(self._path), providers=["CPUExecutionProvider"])
        self._counter = self._path.with_name("answered.txt")
        self._answered = 0
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        name = self._sess.get_inputs()[0].name
        outs = self._sess.run(None, {name: x})
        names = [o.name for o in self._sess.get_outputs()]
        wanted = [o.name for o in payload.outputs] if payload.outputs else names
        self._answered += len(x)
        self._counter.write_text(str(self._answered))
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                NumpyCodec.encode_output(n, np.asarray(o))
                for n, o in zip(names, outs, strict=True)
                if n in wanted
            ],
        )
