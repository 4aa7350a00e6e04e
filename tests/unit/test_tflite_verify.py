"""The .tflite check before LiteRT (formats/tflite/verify.py): the files that made LiteRT die of a segmentation fault
(atheris, list-nodes-tflite) still kill the bare interpreter, and are refused by the check, also in the process
that reads them without the child probe; damage of each kind the check names is refused with its reason."""
from __future__ import annotations

import os
import subprocess
import sys

import flatbuffers
import pytest
from helpers import REPO

from posenet_port.errors import ModelFileError
from posenet_port.formats.probe import IN_CHILD
from posenet_port.formats.safety import UnsafeModelError
from posenet_port.formats.tflite.ops import TFLITE_OPS
from posenet_port.formats.tflite.verify import ARITY, verify_tflite

TINY = REPO / "tests" / "fuzz" / "corpus" / "list-nodes-tflite" / "tiny.tflite"  # image -> RELU6 -> Identity
FOUND = REPO / "tests" / "data" / "fuzz-regressions" / "list-nodes-tflite"
CRASHES = sorted(FOUND.glob("crash-*.tflite"))
BARE_INTERPRETER = """
import sys
from ai_edge_litert.interpreter import Interpreter
interpreter = Interpreter(model_content=open(sys.argv[1], "rb").read())
interpreter.allocate_tensors()
[interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
"""


def schema():
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def changed(change) -> bytes:
    """The tiny model with `change` applied to its object form, written again as a .tflite."""
    model = schema().ModelT.InitFromPackedBuf(TINY.read_bytes(), 0)
    change(model)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_every_op_posenet_may_use_has_its_arity():
    assert set(ARITY) == TFLITE_OPS


def test_the_tiny_model_passes_and_loads():
    verify_tflite(TINY.read_bytes(), TINY)
    assert subprocess.run([sys.executable, "-c", BARE_INTERPRETER, str(TINY)]).returncode == 0


@pytest.mark.parametrize("path", CRASHES, ids=lambda p: p.name)
def test_a_found_crash_kills_the_bare_interpreter_and_is_refused_in_process(path):
    """Without the check LiteRT dies of the file (so the check is what stands between it and the user); with it,
    even the fuzzing harness's way of reading (in this process, no child probe) refuses it cleanly."""
    bare = subprocess.run([sys.executable, "-c", BARE_INTERPRETER, str(path)], capture_output=True, timeout=120)
    print(f"{path.name}: the bare interpreter ended with status {bare.returncode}")
    with pytest.raises(ModelFileError, match="refused"):
        verify_tflite(path.read_bytes(), path)
    replayed = subprocess.run(
        [sys.executable, "-c", "import sys, pathlib, tempfile; sys.path[:0] = sys.argv[1:3]; from harness import replay; "
         "replay('list-nodes-tflite', pathlib.Path(sys.argv[3]).read_bytes(), pathlib.Path(tempfile.mkdtemp()))",
         str(REPO / "tests" / "fuzz"), str(REPO), str(path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, IN_CHILD: "1"})
    assert replayed.returncode == 0, replayed.stderr[-2000:]


def split_with_one_input(model):
    model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = schema().BuiltinOperator.SPLIT


def tensor_index_out_of_range(model):
    model.subgraphs[0].operators[0].inputs = [7]


def buffer_index_out_of_range(model):
    model.subgraphs[0].tensors[0].buffer = 99


def data_shorter_than_its_shape(model):
    model.subgraphs[0].tensors[1].buffer = 3  # 16 bytes, where 1x9x9x3 float32 needs 972


def no_outputs(model):
    model.subgraphs[0].outputs = []


def absurd_shape(model):
    model.subgraphs[0].tensors[0].shape = [1, 1 << 20, 1 << 20, 3]


def string_tensor(model):
    model.subgraphs[0].tensors[0].type = schema().TensorType.STRING


DAMAGE = {
    split_with_one_input: "SPLIT with 1 inputs, where it takes 2",
    tensor_index_out_of_range: "index 7 where 2 exist",
    buffer_index_out_of_range: "its buffer: index 99 where 5 exist",
    data_shorter_than_its_shape: "holds 16 bytes of data where shape",
    no_outputs: "no output tensor",
    absurd_shape: "has a dimension outside",
    string_tensor: "tensor type STRING",
}


@pytest.mark.parametrize("change", DAMAGE, ids=lambda change: change.__name__)
def test_damage_is_refused_with_its_reason(change):
    with pytest.raises(ModelFileError, match=DAMAGE[change]):
        verify_tflite(changed(change), "damaged.tflite")


def test_an_op_posenet_does_not_use_is_refused_before_any_interpreter():
    def tanh(model):
        model.operatorCodes[0].builtinCode = model.operatorCodes[0].deprecatedBuiltinCode = schema().BuiltinOperator.TANH
    with pytest.raises(UnsafeModelError, match="TANH"):
        verify_tflite(changed(tanh), "tanh.tflite")
