"""Triton python-backend model that serves the defect detector (models/detector).

The nvidia-pytriton wheel, which is how we obtain Triton without Docker, ships
tritonserver with the python backend only (no onnxruntime backend), so this
model runs model.onnx, next to this file, with the onnxruntime package from
PyPI (pinned in deploy/dev/triton). Inputs and outputs are exactly those of
config.pbtxt and models/detector/manifest.json; pre- and post-processing stay
in the Go client (docs/model-bundle.md).

The ONNX Runtime session uses one intra-op thread, as the in-process Go path
does, so the two are compared like for like; the config parameter
intra_op_threads changes it.
"""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    """Runs model.onnx on each request of a batch, one after another."""

    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        threads = int(params.get("intra_op_threads", {}).get("string_value", "1"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_name = config["input"][0]["name"]
        self.output_names = [o["name"] for o in config["output"]]
        got = [o.name for o in self.session.get_outputs()]
        if sorted(got) != sorted(self.output_names):
            raise pb_utils.TritonModelException(
                f"model.onnx outputs {got} differ from config.pbtxt outputs {self.output_names}")

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, self.input_name).as_numpy()
            x = np.ascontiguousarray(x, dtype=np.float32)
            outs = self.session.run(self.output_names, {self.input_name: x})
            tensors = [pb_utils.Tensor(name, np.ascontiguousarray(o, dtype=np.float32))
                       for name, o in zip(self.output_names, outs)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def finalize(self):
        self.session = None
