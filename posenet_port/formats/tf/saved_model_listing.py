"""SavedModel folders as node listings: the serving signature frozen, then listed like a frozen graph."""
from __future__ import annotations

from pathlib import Path

from posenet_port.formats.listing import ModelListing
from posenet_port.formats.tf.listing import SAVED_MODEL, is_saved_model, listing_from_graph_def, saved_model_graph_def


def claims(path: Path, head: bytes) -> bool:
    return is_saved_model(path)


def read(path: Path, probe_size: int) -> ModelListing:
    directory = path if path.is_dir() else path.parent
    graph_def, name = saved_model_graph_def(directory)
    listing = listing_from_graph_def(directory, SAVED_MODEL, graph_def, probe_size)
    listing.notes.append(f"signature {name!r}")
    return listing


def converters(listing: ModelListing, outputs: list[str], image: str, size: int) -> dict[str, str]:
    return {
        "tflite": f"tf.lite.TFLiteConverter.from_saved_model('{listing.path}').convert()",
        "tensorflowjs": ("tensorflowjs_converter --input_format=tf_saved_model --signature_name=serving_default "
                         f"{listing.path} OUTPUT_DIR"),
    }
