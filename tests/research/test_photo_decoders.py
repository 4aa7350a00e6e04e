"""research/photo_decoders.py measures what it says: the bounded decoders refuse the lying PNG without allocating
what it claims, and decode a real photo."""
from __future__ import annotations

import sys

from helpers import REPO

sys.path.insert(0, str(REPO / "research"))
import photo_decoders  # noqa: E402 - research/ is no package


def test_the_bounded_decoders_refuse_the_lying_png_and_decode_a_photo(tmp_path):
    paths = photo_decoders.files(tmp_path)
    lying = paths["41-byte PNG claiming a 4 GB chunk"]
    photo = next(path for name, path in paths.items() if name.startswith("JPEG photo") and "4000" not in name)
    for decoder in ("container walk + OpenCV (ours)", "Pillow"):
        seconds, grown_mb, outcome = photo_decoders.measure(decoder, lying)
        print(f"{decoder}: {seconds * 1000:.1f} ms, +{grown_mb} MB, {outcome}")
        assert outcome == "refused" and grown_mb < 50 and seconds < 1
        assert photo_decoders.measure(decoder, photo)[2] == "decoded"
