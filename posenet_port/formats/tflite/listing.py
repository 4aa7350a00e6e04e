"""TFLite models as node listings, read by the interpreter without delegates (XNNPACK would fold the ops into
one DELEGATE op)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from posenet_port._util.fileio import read_bounded
from posenet_port.errors import ModelFileError
from posenet_port.formats.listing import ModelListing, Node, TensorInfo
from posenet_port.formats.tflite.runner import interpreter_class
from posenet_port.formats.tflite.verify import verify_tflite

TITLE = "TFLite"
MAGIC_OFFSET, MAGIC = 4, b"TFL3"


def claims(path: Path, head: bytes) -> bool:
    return head[MAGIC_OFFSET:MAGIC_OFFSET + len(MAGIC)] == MAGIC


def read(path: Path, probe_size: int) -> ModelListing:
    del probe_size  # a .tflite has one input size
    content = read_bounded(path, ModelFileError, "TFLite model")
    verify_tflite(content, path)
    interpreter = interpreter_class()(model_content=content, experimental_op_resolver_type=op_resolver_without_delegates())
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}

    def info(index: int) -> TensorInfo:
        tensor = tensors[index]
        return TensorInfo(tuple(int(d) for d in tensor["shape"]), tensor["dtype"].__name__)

    nodes = [
        Node(i, tensors[d["index"]]["name"], "INPUT", (), (info(d["index"]),))
        for i, d in enumerate(interpreter.get_input_details())
    ]
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the only listing of ops the interpreter offers
        outputs = [int(o) for o in op["outputs"]]
        inputs = tuple(tensors[int(i)]["name"] for i in op["inputs"] if int(i) >= 0)
        nodes.append(Node(len(nodes), tensors[outputs[0]]["name"], op["op_name"], inputs, tuple(map(info, outputs))))
    return ModelListing(path, TITLE, nodes, None)


def op_resolver_without_delegates() -> Any:
    """The resolver that keeps every op visible (XNNPACK would fold them into one DELEGATE op)."""
    module = __import__(interpreter_class().__module__, fromlist=["OpResolverType"])
    return module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def converters(listing: ModelListing, outputs: list[str], image: str, size: int) -> dict[str, str]:
    return {"tflite": "already TFLite", "tensorflowjs": "convert the TensorFlow model"}
