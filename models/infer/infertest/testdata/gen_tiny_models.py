"""Writes the tiny ONNX models the models/infer tests use (infertest embeds them; run from this directory):

    $HOME/.cache/ifc/venv/bin/python gen_tiny_models.py

tiny_classifier.onnx: images [1,3,16,16] -> score [1,1] = sigmoid(8 * mean(0.5 R + 0.3 G + 0.2 B) - 3)
  (channels in the order fed, i.e. after the manifest's colour conversion).
tiny_detector.onnx: images [1,3,32,32] -> CenterNet heads at stride 4 for 2 classes:
  heatmap [1,2,8,8] = sigmoid(12 * avgpool4(ch0 - ch1) - 3), sigmoid(12 * avgpool4(ch2 - ch1) - 3)
  wh [1,2,8,8] = 8 (constant), offset [1,2,8,8] = 0.5 (constant).
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def classifier():
    w = const("w", np.array([0.5, 0.3, 0.2]).reshape(1, 3, 1, 1))
    k = const("k", [8.0])
    b = const("b", [-3.0])
    shape = numpy_helper.from_array(np.array([1, 1], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["c"]),
        helper.make_node("GlobalAveragePool", ["c"], ["p"]),
        helper.make_node("Reshape", ["p", "shape"], ["r"]),
        helper.make_node("Mul", ["r", "k"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["a"]),
        helper.make_node("Sigmoid", ["a"], ["score"]),
    ]
    g = helper.make_graph(nodes, "tiny_classifier",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1, 1])],
                          [w, k, b, shape])
    return g


def detector():
    wh_w = np.zeros((2, 3, 1, 1))
    hm_w = np.array([[1, -1, 0], [0, -1, 1]], dtype=np.float32).reshape(2, 3, 1, 1) * 12
    inits = [
        const("hm_w", hm_w), const("hm_b", [-3.0, -3.0]),
        const("wh_w", wh_w), const("wh_b", [8.0, 8.0]),
        const("off_w", wh_w), const("off_b", [0.5, 0.5]),
    ]
    nodes = [
        helper.make_node("AveragePool", ["images"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Conv", ["pooled", "hm_w", "hm_b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["heatmap"]),
        helper.make_node("Conv", ["pooled", "wh_w", "wh_b"], ["wh"]),
        helper.make_node("Conv", ["pooled", "off_w", "off_b"], ["offset"]),
    ]
    out = lambda n, c: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, c, 8, 8])
    g = helper.make_graph(nodes, "tiny_detector",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [out("heatmap", 2), out("wh", 2), out("offset", 2)], inits)
    return g


for name, graph in [("tiny_classifier.onnx", classifier()), ("tiny_detector.onnx", detector())]:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ifc-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, name)
    print("wrote", name)
