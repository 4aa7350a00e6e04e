"""The seed corpora of the atheris harnesses (tests/fuzz/corpus/<harness>/), committed: small files of every
format, made from the shipped weights and from tiny models built here, so that libFuzzer's mutations start from
valid structure and each run stays fast. `python tests/fuzz/seeds.py` remakes them."""
from __future__ import annotations

import json
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"
REGRESSIONS = REPO / "tests" / "data" / "fuzz-regressions"
sys.path.insert(0, str(REPO))


def tiny_frozen_graph() -> bytes:
    """Placeholder -> Conv2D -> Relu6, as a frozen GraphDef: a few hundred bytes in PoseNet's ops."""
    import tensorflow as tf

    kernel = tf.constant(np.ones((1, 1, 3, 4), np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    def tiny(image):
        return tf.identity(tf.nn.relu6(tf.nn.conv2d(image, kernel, 2, "SAME")), name="heatmap_2")

    return tiny.get_concrete_function().graph.as_graph_def().SerializeToString()


def tiny_saved_model(folder: Path) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.kernel = tf.Variable(np.ones((1, 1, 3, 4), np.float32))
    module.serve = tf.function(lambda image: {"heatmap_2": tf.nn.relu6(tf.nn.conv2d(image, module.kernel, 2, "SAME"))},
                               input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


def tiny_onnx() -> bytes:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
         helper.make_node("Conv", ["nchw", "w"], ["conv"], strides=[2, 2]),
         helper.make_node("Clip", ["conv", "lo", "hi"], ["heatmap_2"])],
        "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, "h", "w", 3])],
        [helper.make_tensor_value_info("heatmap_2", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], [1.0] * 12),
         helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0]), helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])])
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def tiny_tflite() -> bytes:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 9, 9, 3], tf.float32, name="image")])
    def tiny(image):
        return {"heatmap_2": tf.nn.relu6(image)}

    return tf.lite.TFLiteConverter.from_concrete_functions([tiny.get_concrete_function()], tiny).convert()


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes((x * 7 + y * 3) % 256 for x in range(3 * width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write(harness: str, name: str, data: bytes) -> None:
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def main() -> None:
    import tempfile

    import cv2

    from posenet_port.model.weights import SHIPPED_WEIGHTS

    model_json = SHIPPED_WEIGHTS.model_path.read_bytes()
    write("weights-graph-model", "posenet.json", model_json)
    document = json.loads(model_json)
    write("weights-shard", "ones", np.ones(64, "<f4").tobytes())
    checkpoint = {name: {"filename": name.replace("/", "_"), "shape": spec["shape"]}
                  for name, spec in ((w["name"], w) for g in document["weightsManifest"] for w in g["weights"])}
    write("weights-checkpoint-shard", "ones", b"\x00" + np.ones(16, "<f4").tobytes())
    write("weights-checkpoint-shard", "gzip", b"\xc1" + np.ones(16, "<f4").tobytes())
    write("weights-checkpoint", "manifest.json", json.dumps(dict(list(checkpoint.items())[:6])).encode())
    write("list-nodes-tfjs", "posenet.json", model_json)
    write("list-nodes-tfjs", "stride-zero.json", (REGRESSIONS / "list-nodes-tfjs" / "stride-zero.json").read_bytes())
    write("list-nodes-pb", "tiny.pb", tiny_frozen_graph())
    with tempfile.TemporaryDirectory() as scratch:
        tiny_saved_model(Path(scratch) / "saved")
        write("list-nodes-savedmodel", "saved_model.pb", (Path(scratch) / "saved" / "saved_model.pb").read_bytes())
    write("list-nodes-onnx", "tiny.onnx", tiny_onnx())
    with tempfile.TemporaryDirectory() as scratch:
        import openvino

        (Path(scratch) / "tiny.onnx").write_bytes(tiny_onnx())
        openvino.save_model(openvino.convert_model(Path(scratch) / "tiny.onnx"), Path(scratch) / "tiny.xml")
        (HERE / "fixtures").mkdir(exist_ok=True)
        shutil.copy(Path(scratch) / "tiny.xml", HERE / "fixtures" / "tiny-openvino.xml")
        write("list-nodes-openvino-bin", "tiny.bin", (Path(scratch) / "tiny.bin").read_bytes())
    write("list-nodes-tflite", "tiny.tflite", tiny_tflite())
    write("list-nodes-openvino", "tiny.xml", (REGRESSIONS / "list-nodes-openvino" / "openvino-name-not-utf8.xml").read_bytes()
          .replace(b"im\xeege", b"image"))
    portrait = cv2.resize(cv2.imread(str(REPO / "posenet_port" / "data" / "people" / sorted(
        p.name for p in (REPO / "posenet_port" / "data" / "people").iterdir())[0])), (24, 32))
    write("photo", "tiny.png", png(12, 8))
    write("photo", "portrait.png", cv2.imencode(".png", portrait)[1].tobytes())
    write("photo", "portrait.jpg", cv2.imencode(".jpg", portrait)[1].tobytes())
    with tempfile.TemporaryDirectory() as scratch:
        video = Path(scratch) / "tiny.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (24, 32))
        for shift in range(3):
            writer.write(np.roll(portrait, 4 * shift, axis=1))
        writer.release()
        write("video", "tiny.avi", video.read_bytes())
    write("server-request", "index", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    write("server-request", "models", b"GET /models/index.json HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n")
    write("server-request", "shard", b"HEAD /models/model/shard.bin HTTP/1.0\r\nHost: localhost\r\n\r\n")
    for folder in sorted(CORPUS.iterdir()):
        print(f"{folder.name}: {len(list(folder.iterdir()))} seeds, {sum(p.stat().st_size for p in folder.iterdir()):,} bytes")


if __name__ == "__main__":
    main()
