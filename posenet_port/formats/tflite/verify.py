"""A .tflite checked in Python before LiteRT reads it. LiteRT's flatbuffer verifier checks that offsets stay in the
file, not what they mean: a model without subgraphs, or a SPLIT with one input, makes its interpreter or XNNPACK
read what is not there and die of a segmentation fault (found by atheris: tests/data/fuzz-regressions/
list-nodes-tflite). Here every count, index, op, arity, type and size the interpreter relies on is checked first,
and the ops are named from the file itself, so a model with an op PoseNet does not use never reaches a kernel.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from posenet_port.errors import ModelFileError
from posenet_port.formats.tflite.ops import check_tflite_ops

OPTIONAL = -1  # an absent optional input
# Inputs (fewest, most) and outputs (fewest, most) of each op PoseNet's TFLite models use (ops.TFLITE_OPS),
# as the kernels expect them; None: any number.
ARITY: dict[str, tuple[tuple[int, int | None], tuple[int, int | None]]] = {
    "CONV_2D": ((2, 3), (1, 1)), "DEPTHWISE_CONV_2D": ((2, 3), (1, 1)),
    "ADD": ((2, 2), (1, 1)), "SUB": ((2, 2), (1, 1)), "MUL": ((2, 2), (1, 1)), "DIV": ((2, 2), (1, 1)),
    "MAXIMUM": ((2, 2), (1, 1)), "MINIMUM": ((2, 2), (1, 1)),
    "LOGISTIC": ((1, 1), (1, 1)), "QUANTIZE": ((1, 1), (1, 1)), "DEQUANTIZE": ((1, 1), (1, 1)),
    "RELU": ((1, 1), (1, 1)), "RELU6": ((1, 1), (1, 1)), "SQUEEZE": ((1, 1), (1, 1)), "CAST": ((1, 1), (1, 1)),
    "PAD": ((2, 2), (1, 1)), "PADV2": ((2, 3), (1, 1)), "RESHAPE": ((1, 2), (1, 1)), "EXPAND_DIMS": ((2, 2), (1, 1)),
    "CONCATENATION": ((1, None), (1, 1)), "SPLIT": ((2, 2), (1, None)), "SLICE": ((3, 3), (1, 1)),
    "STRIDED_SLICE": ((4, 4), (1, 1)), "RESIZE_BILINEAR": ((2, 2), (1, 1)),
}
OPTIONAL_LAST_INPUT = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})  # the bias
ELEMENT_BYTES = {"FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "INT64": 8, "INT16": 2, "INT8": 1, "UINT8": 1, "BOOL": 1}
MAX_DIMENSION, MAX_ELEMENTS = 1 << 16, 1 << 28
OLD_CODES_END = 127  # deprecated_builtin_code's placeholder: the op's code is in builtin_code


def verify_tflite(content: bytes, source: str | Path) -> None:
    """Refuse (ModelFileError, UnsafeModelError) a .tflite whose structure LiteRT would trust but cannot hold."""
    schema = _schema()
    if content[4:8] != b"TFL3":
        raise ModelFileError(f"{source}: not a TFLite model (no TFL3 identifier); refused")
    try:
        model = schema.Model.GetRootAsModel(content, 0)
        ops = _op_names(model, schema, len(content), source)
        check_tflite_ops(ops, source)
        if _count(model.SubgraphsLength(), "subgraphs", len(content), source) == 0:
            raise ModelFileError(f"{source}: a TFLite model without a subgraph; refused")
        buffers = _count(model.BuffersLength(), "buffers", len(content), source)
        types = {value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")}
        for index in range(model.SubgraphsLength()):
            _verify_subgraph(model.Subgraphs(index), model, ops, buffers, types, len(content), f"{source}: subgraph {index}")
    except (IndexError, struct.error, UnicodeDecodeError, ValueError, OverflowError) as error:
        raise ModelFileError(f"{source}: a damaged TFLite model ({type(error).__name__}: {error}); refused") from None


def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def _count(length: int, what: str, file_bytes: int, source: str | Path) -> int:
    """A vector's length, refused when the file is too small to hold it (each entry takes at least 4 bytes)."""
    if not 0 <= length <= file_bytes // 4:
        raise ModelFileError(f"{source}: states {length} {what}, more than its {file_bytes} bytes can hold; refused")
    return length


def _op_names(model: Any, schema: Any, file_bytes: int, source: str | Path) -> list[str]:
    names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    ops = []
    for index in range(_count(model.OperatorCodesLength(), "op codes", file_bytes, source)):
        code = model.OperatorCodes(index)
        old, new = code.DeprecatedBuiltinCode(), code.BuiltinCode()
        if old != OLD_CODES_END and new not in (0, old):  # the converter writes the same code twice
            raise ModelFileError(f"{source}: op code {index} says both {names.get(old, old)} and "
                                 f"{names.get(new, new)}; refused")
        ops.append(names.get(max(old, new), f"unknown op code {max(old, new)}") if not code.CustomCode() else
                   f"custom op {code.CustomCode().decode('utf-8', 'replace')!r}")
    return ops


def _verify_subgraph(graph: Any, model: Any, ops: list[str], buffers: int, types: dict[int, str], file_bytes: int,
                     where: str) -> None:
    tensors = _count(graph.TensorsLength(), "tensors", file_bytes, where)
    for index in range(tensors):
        _verify_tensor(graph.Tensors(index), model, buffers, types, f"{where}, tensor {index}")
    for role, indices in (("input", graph.InputsAsNumpy()), ("output", graph.OutputsAsNumpy())):
        if isinstance(indices, int) or len(indices) == 0:
            raise ModelFileError(f"{where}: no {role} tensor; refused")
        _in_range(indices, tensors, f"{where}, its {role}s")
    for index in range(_count(graph.OperatorsLength(), "operators", file_bytes, where)):
        _verify_operator(graph.Operators(index), ops, tensors, f"{where}, operator {index}")


def _verify_tensor(tensor: Any, model: Any, buffers: int, types: dict[int, str], where: str) -> None:
    tensor.Name().decode("utf-8")  # names reach the user: bytes that are not UTF-8 are damage
    kind = types.get(tensor.Type(), f"type {tensor.Type()}")
    if kind not in ELEMENT_BYTES:
        raise ModelFileError(f"{where}: tensor type {kind}, which PoseNet does not use; refused")
    shape = [] if tensor.ShapeIsNone() else [int(d) for d in tensor.ShapeAsNumpy()]
    elements = 1
    for dimension in shape:
        if not 0 <= dimension <= MAX_DIMENSION:
            raise ModelFileError(f"{where}: shape {shape} has a dimension outside 0..{MAX_DIMENSION}; refused")
        elements *= dimension
    if elements > MAX_ELEMENTS:
        raise ModelFileError(f"{where}: shape {shape} holds more than {MAX_ELEMENTS} values; refused")
    _in_range([tensor.Buffer()], buffers, f"{where}, its buffer")
    buffer = model.Buffers(tensor.Buffer())
    if buffer.Offset() or buffer.Size():
        raise ModelFileError(f"{where}: its data lies outside the flatbuffer (offset {buffer.Offset()}); refused")
    stored, needed = buffer.DataLength(), elements * ELEMENT_BYTES[kind]
    if stored and stored != needed:
        raise ModelFileError(f"{where}: holds {stored} bytes of data where shape {shape} of {kind} needs {needed}; "
                             "refused")


def _verify_operator(operator: Any, ops: list[str], tensors: int, where: str) -> None:
    _in_range([operator.OpcodeIndex()], len(ops), f"{where}, its op code")
    op = ops[operator.OpcodeIndex()]
    inputs = [] if operator.InputsIsNone() else [int(i) for i in operator.InputsAsNumpy()]
    outputs = [] if operator.OutputsIsNone() else [int(i) for i in operator.OutputsAsNumpy()]
    for role, indices, (fewest, most) in (("inputs", inputs, ARITY[op][0]), ("outputs", outputs, ARITY[op][1])):
        if not fewest <= len(indices) <= (most if most is not None else len(indices)):
            expected = f"{fewest}" if fewest == most else f"{fewest} to {most if most is not None else 'any'}"
            raise ModelFileError(f"{where}: {op} with {len(indices)} {role}, where it takes {expected}; refused")
    optional = inputs[-1:] if op in OPTIONAL_LAST_INPUT and inputs[-1:] == [OPTIONAL] else []
    _in_range(inputs[:len(inputs) - len(optional)], tensors, f"{where} ({op}), its inputs")
    _in_range(outputs, tensors, f"{where} ({op}), its outputs")


def _in_range(indices: Any, size: int, where: str) -> None:
    wrong = [int(i) for i in indices if not 0 <= int(i) < size]
    if wrong:
        raise ModelFileError(f"{where}: index {wrong[0]} where {size} exist; refused")
