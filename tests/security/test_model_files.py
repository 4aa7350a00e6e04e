"""A model file can reach no file but its own, and no model file hangs a reader or fills memory: external data
anywhere in an ONNX model, FIFOs, links to /dev/zero, sparse files of gigabytes and pads that would allocate
gigabytes are refused before any runtime sees them."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from helpers import REPO
from onnx import TensorProto, helper, numpy_helper

from posenet_port.errors import ModelFileError, PosenetPortError
from posenet_port.formats.listing import read_model
from posenet_port.formats.onnx.export import posenet_onnx
from posenet_port.formats.registry import FORMATS
from posenet_port.formats.safety import UnsafeModelError
from posenet_port.model.weights import SHIPPED_WEIGHTS

PHOTO = REPO / "posenet_port" / "data" / "solvay1927.jpg"
SECRET = b"the user's private key"


@pytest.fixture(scope="module")
def onnx_model(shipped_weights):
    return posenet_onnx(shipped_weights, 16)


def external(name: str, location: str) -> TensorProto:
    """A tensor whose values ONNX Runtime would read from `location`, beside the model."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[len(SECRET) // 4])
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    tensor.external_data.add(key="length", value=str(len(SECRET) // 4 * 4))
    return tensor


def with_constant(model, tensor: TensorProto):
    """A `Constant` whose value is `tensor`, its output unused: ONNX Runtime still loads it."""
    crafted = onnx.ModelProto()
    crafted.CopyFrom(model)
    crafted.graph.node.append(helper.make_node("Constant", [], ["stolen"], value=tensor, name="stolen"))
    return crafted


def with_subgraph_attribute(model, tensor: TensorProto):
    """The tensor inside a graph-valued attribute of an allow-listed node."""
    crafted = onnx.ModelProto()
    crafted.CopyFrom(model)
    inner = helper.make_graph([], "inner", [], [], initializer=[tensor])
    crafted.graph.node[0].attribute.append(helper.make_attribute("hidden", inner))
    return crafted


def with_sparse_initializer(model, tensor: TensorProto):
    crafted = onnx.ModelProto()
    crafted.CopyFrom(model)
    indices = numpy_helper.from_array(np.array([0], np.int64), "stolen_indices")
    crafted.graph.sparse_initializer.append(helper.make_sparse_tensor(tensor, indices, [len(SECRET)]))
    return crafted


@pytest.mark.parametrize("craft", [with_constant, with_subgraph_attribute, with_sparse_initializer])
def test_an_onnx_model_cannot_name_a_file_anywhere(onnx_model, tmp_path, craft):
    (tmp_path / "secret.txt").write_bytes(SECRET)
    path = tmp_path / "crafted.onnx"
    path.write_bytes(craft(onnx_model, external("stolen", "secret.txt")).SerializeToString())
    with pytest.raises(UnsafeModelError, match="outside the file"):
        FORMATS["onnx"].open(path)
    with pytest.raises(UnsafeModelError, match="outside the file"):
        read_model(path)


def test_the_estimate_command_refuses_it_and_opens_no_file(onnx_model, tmp_path):
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "crafted.onnx").write_bytes(with_constant(onnx_model, external("stolen", "secret.txt")).SerializeToString())
    result = subprocess.run([sys.executable, "-m", "posenet_port.estimate", PHOTO, "--model", "crafted.onnx"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and "outside the file" in result.stderr, result.stderr[-2000:]
    assert result.stdout == ""


def test_pads_that_would_allocate_gigabytes_are_refused(onnx_model, tmp_path):
    crafted = onnx.ModelProto()
    crafted.CopyFrom(onnx_model)
    image = crafted.graph.node[0].input[0]
    crafted.graph.initializer.append(numpy_helper.from_array(np.array([0, 0, 50000, 50000] * 2, np.int64), "big_pads"))
    crafted.graph.node.append(helper.make_node("Pad", [image, "big_pads"], ["padded"], name="huge_pad"))
    path = tmp_path / "pad.onnx"
    path.write_bytes(crafted.SerializeToString())
    with pytest.raises(UnsafeModelError, match="pads up to 50000"):
        FORMATS["onnx"].open(path)


@pytest.fixture(scope="module")
def openvino_ir(shipped_weights, frozen_pb, tmp_path_factory) -> Path:
    from posenet_port.formats.base import ExportSource
    from posenet_port.model.spec import ModelSpec
    from posenet_port.pipeline.calibration import Calibration

    fmt = FORMATS["openvino"]
    spec = ModelSpec(0.75, 16).exported("openvino", "float32", None)
    source = ExportSource(spec=spec, weights=shipped_weights, frozen_graph=frozen_pb, calibration=Calibration([]),
                          input_size=257)
    return fmt.export(source, fmt.recipes["float32"], fmt.target(tmp_path_factory.mktemp("ir"), "posenet", "float32", 257))


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def dev_zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def sparse_huge(path: Path) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(6 << 30)  # 6 GB that take no disk
    return path


BAD_FILES = {"fifo": fifo, "dev-zero": dev_zero, "sparse 6 GB": sparse_huge}


def _hung(signum, frame):
    raise TimeoutError("the reader hung on the file")


def bounded(call, limit_s: int = 60) -> float:
    """Run `call` (which must refuse), returning the seconds it took; a hang (stopped by an alarm) or a huge read
    fails the test."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(limit_s)
    try:
        with pytest.raises(PosenetPortError):
            call()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"the refusal grew the process by {grown_mb:.0f} MB"
    return time.perf_counter() - start


@pytest.mark.parametrize("make", BAD_FILES.values(), ids=BAD_FILES.keys())
@pytest.mark.parametrize("name", ["model.onnx", "model.xml", "model.tflite", "model.pb"])
def test_no_model_file_hangs_or_fills_memory(tmp_path, make, name):
    path = make(tmp_path / name)
    seconds = bounded(lambda: FORMATS[{".onnx": "onnx", ".xml": "openvino", ".tflite": "tflite",
                                       ".pb": "frozen-graph"}[path.suffix]].open(path))
    seconds += bounded(lambda: read_model(path))
    print(f"{name} as {make.__name__}: refused in {seconds:.2f} s")
    assert seconds < 20


@pytest.mark.parametrize("make", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_an_openvino_weights_file_that_lies_is_refused(openvino_ir, tmp_path, make):
    xml = tmp_path / "model.xml"
    xml.write_bytes(openvino_ir.read_bytes())
    make(tmp_path / "model.bin")
    with pytest.raises(ModelFileError, match="model.bin"):
        FORMATS["openvino"].open(xml)


@pytest.mark.parametrize("make", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_savedmodel_whose_variables_lie_is_refused(model, tmp_path, make):
    from posenet_port.model.freeze import write_saved_model

    saved = write_saved_model(model, tmp_path / "saved")
    data = next((saved / "variables").glob("variables.data-*"))
    data.unlink()
    make(data)
    seconds = bounded(lambda: FORMATS["savedmodel"].open(saved))
    seconds += bounded(lambda: read_model(saved))
    assert seconds < 20


@pytest.mark.parametrize("make", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_tfjs_shard_that_lies_is_refused_before_it_is_read(tmp_path, make):
    from posenet_port.model.weights import load_weights

    model = tmp_path / "model"
    model.mkdir()
    (model / "posenet.json").write_bytes(SHIPPED_WEIGHTS.model_path.read_bytes())
    make(model / "posenet.bin")
    seconds = bounded(lambda: load_weights(model / "posenet.json"))
    assert seconds < 20
