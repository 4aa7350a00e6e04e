"""TFLite models from a frozen PoseNet graph: float32, dynamic-range, float16 and full int8 (post-training).

The graph's roles come from `nodes.identify_roles`, so any PoseNet frozen graph converts, whatever its names.
The models output the four raw heads (`heatmap_2` logits, `offset_2`, displacements); int8 calibration uses real
photos passed through the same `preprocess` as inference.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import ConfigError, ModelFileError, raised_by_interrupt
from ..fileio import write_bytes_atomic
from ..nodes import identify_roles, read_model
from ..preprocess import ImageError, load_image, preprocess
from . import variants

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


TFLITE_VARIANTS = variants(
    ("float32", "float32 weights and activations"),
    ("dynamic-range", "int8 weights, float activations"),
    ("float16", "float16 weights"),
    ("int8", "full integer: int8 weights and activations, calibrated on real photos"),
)


def augmented_views(rgb: np.ndarray) -> list[np.ndarray]:
    """A photo, its mirror, and crops on 2x2 and 3x3 grids of both: people at several scales and places."""
    views = []
    for image in (rgb, rgb[:, ::-1]):
        height, width = image.shape[:2]
        views.append(image)
        for grid in (2, 3):
            crop_h, crop_w = height * 2 // (grid + 1), width * 2 // (grid + 1)
            for row in range(grid):
                for col in range(grid):
                    top, left = row * (height - crop_h) // max(grid - 1, 1), col * (width - crop_w) // max(grid - 1, 1)
                    views.append(image[top : top + crop_h, left : left + crop_w])
    return views


def calibration_photos(directory: str | Path | None) -> list[np.ndarray]:
    """The photos in `directory` (every readable image), or by default the tuning photos (never the validation
    photos the checks judge on)."""
    if directory is None:
        from ..samples import tuning_photos

        return [rgb for _, rgb in tuning_photos()]
    directory = Path(directory)
    if not directory.is_dir():
        raise ImageError(f"{directory}: calibration images must be a folder of photos")
    photos = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            try:
                photos.append(load_image(path))
            except ImageError:
                continue
    if not photos:
        raise ImageError(f"{directory}: no readable images ({', '.join(IMAGE_SUFFIXES)}) for int8 calibration")
    return photos


def representative_inputs(photos: Sequence[np.ndarray], input_size: int) -> list[np.ndarray]:
    """Calibration batches: every augmented view, preprocessed exactly as at inference."""
    return [preprocess(view, input_size)[0] for photo in photos for view in augmented_views(photo)]


def export_tflite(
    frozen_pb: str | Path,
    path: str | Path,
    variant: str,
    input_size: int,
    calibration: Sequence[np.ndarray] = (),
    int8_io: bool = False,
) -> Path:
    """Convert `frozen_pb` at a fixed [1, input_size, input_size, 3] input; written atomically to `path`."""
    import tensorflow as tf

    if variant not in TFLITE_VARIANTS:
        raise ConfigError(f"TFLite variant {variant!r}: choose one of {', '.join(TFLITE_VARIANTS)}")
    if variant == "int8" and not calibration:
        raise ConfigError("int8 TFLite needs calibration inputs (representative_inputs)")
    roles = identify_roles(read_model(frozen_pb, probe_size=input_size))
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(frozen_pb), [roles.image.node], roles.output_names(),
        input_shapes={roles.image.node: [1, input_size, input_size, 3]},
    )
    _configure(converter, variant, calibration, int8_io)
    try:
        data = converter.convert()
    except Exception as error:  # noqa: BLE001 - the converter raises ConverterError, ValueError, RuntimeError ...
        if raised_by_interrupt(error):
            raise KeyboardInterrupt from None
        raise ModelFileError(f"{frozen_pb}: TFLite {variant} conversion failed: {str(error).strip()[:300]}") from None
    return write_bytes_atomic(path, data)


def _configure(converter, variant: str, calibration: Sequence[np.ndarray], int8_io: bool) -> None:
    import tensorflow as tf

    if variant == "float32":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        converter.representative_dataset = _dataset(calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.int8 if int8_io else tf.float32
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type


def _dataset(calibration: Iterable[np.ndarray]) -> Callable[[], Iterable[list[np.ndarray]]]:
    def generate():
        for batch in calibration:
            yield [batch.astype(np.float32)]

    return generate
