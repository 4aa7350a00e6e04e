"""OpenVINO IR (`.xml` + `.bin`) on OpenVINO's CPU plugin, in float32 arithmetic.

The CPU plugin's default precision is bfloat16 on CPUs that have it (AVX-512 BF16, AMX): that would move
keypoints, so float32 is asked for; a float16-compressed IR is computed in float32 too. The IR is read from
bytes after its ops are checked against an allow-list (no extensions are ever loaded).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from posenet_port._util.fileio import read_bounded
from posenet_port.errors import ModelFileError
from posenet_port.formats.openvino.ops import check_openvino_ops
from posenet_port.formats.runner import Runner, check_outputs, output_role
from posenet_port.model.spec import ModelSpec


class OpenVinoRunner(Runner):
    def __init__(self, path: str | Path, threads: int = 2, spec: ModelSpec | None = None) -> None:
        import openvino as ov

        self.path = self.source = Path(path)
        core = ov.Core()
        model = read_checked_model(self.path, core)
        if len(model.inputs) != 1 or model.inputs[0].get_partial_shape().rank.get_length() != 4:
            raise ModelFileError(f"{path}: PoseNet takes one [1, H, W, 3] image; this model's inputs differ")
        roles = {output_role(output.get_names(), spec): output.get_any_name() for output in model.outputs}
        self.outputs = {role: name for role, name in roles.items() if role}
        check_outputs(self.outputs, path)
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1}
        self.compiled = core.compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        height = model.inputs[0].get_partial_shape()[1]
        self.input_size = height.get_length() if height.is_static else None

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        results = self.request.infer([np.asarray(image, np.float32)])
        return {canonical: np.array(results[self.compiled.output(name)]) for canonical, name in self.outputs.items()}


def read_checked_model(path: Path, core):
    """The IR (`.xml` and the `.bin` beside it) as an `openvino.Model`, once its ops were found allowed."""
    import openvino as ov

    xml = read_bounded(path, ModelFileError, "OpenVINO IR")
    weights = read_bounded(path.with_suffix(".bin"), ModelFileError, "OpenVINO weights (.bin)")
    model = core.read_model(xml, ov.Tensor(np.frombuffer(weights, np.uint8)))  # its errors: Format.open, read_model
    check_openvino_ops(((op.get_type_name(), op.get_friendly_name()) for op in model.get_ordered_ops()), path)
    return model


def open_runner(path: Path, threads: int = 2, spec: ModelSpec | None = None) -> OpenVinoRunner:
    return OpenVinoRunner(path, threads, spec)
