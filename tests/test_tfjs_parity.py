"""Our frozen graph against real TensorFlow.js 4.22 (cpu backend) running the shipped graph model in node."""
import numpy as np
import pytest

from posenet_port.preprocess import load_image, preprocess
from posenet_port.runtime import FrozenGraphRunner, TfjsNodeRunner
from posenet_port.weights import SHIPPED_WEIGHTS

from conftest import photo_paths

TOLERANCE = 1e-4


@pytest.mark.slow
@pytest.mark.node
@pytest.mark.parametrize("size", [257, 353])
def test_frozen_graph_matches_tfjs_on_real_photos(node_oracle, frozen_pb, size):
    images = [preprocess(load_image(path), size)[0] for path in photo_paths()]
    expected = TfjsNodeRunner(SHIPPED_WEIGHTS.model_path, backend="cpu").run_many(images)
    ours = FrozenGraphRunner(frozen_pb)
    cells = (size - 1) // 16 + 1
    for image, tfjs in zip(images, expected):
        outputs = ours(image)
        assert sorted(tfjs) == ["displacement_bwd_2", "displacement_fwd_2", "heatmap_2", "offset_2"]
        for name, values in tfjs.items():
            assert values.shape[:3] == (1, cells, cells)
            difference = np.abs(outputs[name] - values).max()
            assert difference <= TOLERANCE, f"{name} at {size}: max abs difference {difference:.3g}"
        # A real photo of people, not a blank: the heatmap must find confident keypoints.
        assert (1 / (1 + np.exp(-tfjs["heatmap_2"]))).max() > 0.9
