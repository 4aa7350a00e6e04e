"""Photo -> network input, and network coordinates -> photo coordinates, exactly as posenet 2.x does.

posenet 2.2.2 `padAndResizeTo`: zero-pad the short side to the input's aspect ratio (the same number of pixels
on both sides, `Math.round`ed), resize bilinearly with `tf.image.resizeBilinear` (no corner alignment, no
half-pixel centres), then `x / 127.5 - 1` in float32. `stretch=True` skips the padding (posenet 1.x behaviour).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from posenet_port._util.fileio import read_bounded
from posenet_port.errors import PosenetPortError, reading

try:  # built by pip from _resize.c where a C compiler exists; the NumPy resize below otherwise
    from posenet_port.inference import _resize
except ImportError:
    _resize = None
RESIZER = "compiled (C)" if _resize is not None else "NumPy"

COLOR_ORDERS = ("rgb", "bgr")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MAX_PIXELS = 50_000_000  # photos of 12-48 MP pass; a 32768x32768 PNG (1 MB on disk, 3 GB decoded) does not


def folder_photos(directory: Path) -> list[Path]:
    """The photos in a folder, by name (by their suffix: IMAGE_SUFFIXES); none if it is not a readable folder."""
    try:
        return sorted(p for p in Path(directory).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError:
        return []


class ImageError(PosenetPortError, ValueError):
    """An image that cannot be turned into a network input."""


@dataclass(frozen=True)
class Letterbox:
    """How a photo was placed into the network input: padding in photo pixels, both sizes."""

    image_height: int
    image_width: int
    input_height: int
    input_width: int
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0

    @property
    def scale_y(self) -> float:
        return (self.image_height + self.pad_top + self.pad_bottom) / self.input_height

    @property
    def scale_x(self) -> float:
        return (self.image_width + self.pad_left + self.pad_right) / self.input_width

    def to_image(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network-input coordinates -> photo coordinates (posenet `scaleAndFlipPoses`, no flip)."""
        return y * self.scale_y - self.pad_top, x * self.scale_x - self.pad_left


def js_round(value: float) -> int:
    """JavaScript `Math.round`: halves round up (towards +inf), where Python and numpy round them to even."""
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _check_color_order(color_order: str) -> None:
    if color_order not in COLOR_ORDERS:
        raise ImageError(f"color order {color_order!r}: choose one of {', '.join(COLOR_ORDERS)}")


def to_rgb(image: np.ndarray, color_order: str = "rgb") -> np.ndarray:
    """Any HxW (gray), HxWx1, HxWx3 or HxWx4 uint8 image -> HxWx3 RGB uint8."""
    _check_color_order(color_order)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageError(f"image of shape {image.shape}: expected HxW, HxWx1, HxWx3 or HxWx4")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"image of shape {image.shape} is empty")
    if image.dtype != np.uint8:
        raise ImageError(f"image dtype {image.dtype}: expected uint8 pixels 0..255")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    rgb = image[:, :, :3]
    return rgb[:, :, ::-1] if color_order == "bgr" else rgb


def letterbox_for(image_height: int, image_width: int, input_height: int, input_width: int, stretch: bool) -> Letterbox:
    if stretch:
        return Letterbox(image_height, image_width, input_height, input_width)
    target_aspect = input_width / input_height
    if image_width / image_height < target_aspect:
        pad = js_round(0.5 * (target_aspect * image_height - image_width))
        return Letterbox(image_height, image_width, input_height, input_width, pad_left=pad, pad_right=pad)
    pad = js_round(0.5 * ((1.0 / target_aspect) * image_width - image_height))
    return Letterbox(image_height, image_width, input_height, input_width, pad_top=pad, pad_bottom=pad)


class _AxisSamples(NamedTuple):
    low: np.ndarray  # source index below, in the unpadded image (clipped; see valid_*)
    high: np.ndarray
    fraction: np.ndarray
    valid_low: np.ndarray  # False where the sample falls in the zero padding
    valid_high: np.ndarray


def _axis_samples(size: int, pad_before: int, pad_after: int, new: int) -> _AxisSamples:
    """Where each output pixel samples along one axis, as tfjs' cpu `resizeBilinear` computes it on the
    zero-padded image (alignCorners=false, halfPixelCenters=false)."""
    old = size + pad_before + pad_after
    source = (old / new) * np.arange(new, dtype=np.float64)
    low = np.maximum(0, np.floor(source)).astype(np.intp)
    high = np.minimum(old - 1, np.ceil(source)).astype(np.intp)
    fraction = source - low
    low, high = low - pad_before, high - pad_before
    valid_low, valid_high = (low >= 0) & (low < size), (high >= 0) & (high < size)
    return _AxisSamples(np.clip(low, 0, size - 1), np.clip(high, 0, size - 1), fraction, valid_low, valid_high)


def _corner(pixels: np.ndarray, width: int, rows: np.ndarray, cols: np.ndarray, valid_rows: np.ndarray, valid_cols: np.ndarray) -> np.ndarray:
    """One bilinear corner for every output pixel. `pixels` holds each RGB pixel as one 3-byte item, so a
    gather moves whole pixels (several times faster than indexing the HxWx3 array)."""
    gathered = np.take(pixels, rows[:, None] * width + cols[None, :]).view(np.uint8)
    values = gathered.reshape(len(rows), len(cols) * 3).astype(np.float64)  # rows of RGBRGB...: long inner loops
    # The padding is zeros; it is whole rows and columns, so clear those rather than mask every pixel.
    values[~valid_rows] = 0.0
    values[:, np.repeat(~valid_cols, 3)] = 0.0
    return values


def resize_bilinear(image: np.ndarray, height: int, width: int, padding: tuple[int, int, int, int] = (0, 0, 0, 0),
                    reverse_channels: bool = False) -> np.ndarray:
    """tf.image.resizeBilinear of the 3-channel uint8 image zero-padded by (top, bottom, left, right), without
    building the padded image; computed in float64 as tfjs' cpu backend does and stored as float32, channels
    reversed if asked (BGR in, RGB out). In C where pip built `_resize.c` (`RESIZER` says which), else in NumPy:
    the same values to the last bit."""
    if _resize is None:
        resized = resize_bilinear_numpy(image, height, width, padding)
        return resized[:, :, ::-1] if reverse_channels else resized
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    resized = _resize.resize_bilinear(pixels, pixels.shape[0], pixels.shape[1], height, width, *padding, reverse_channels)
    return np.frombuffer(resized, np.float32).reshape(height, width, 3)


def resize_bilinear_numpy(image: np.ndarray, height: int, width: int, padding: tuple[int, int, int, int] = (0, 0, 0, 0)) -> np.ndarray:
    """`resize_bilinear` in NumPy: the compiled one's reference, and where it was not built."""
    top, bottom, left, right = padding
    r = _axis_samples(image.shape[0], top, bottom, height)
    c = _axis_samples(image.shape[1], left, right, width)
    pixels = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1).view(np.dtype((np.void, 3)))
    w = image.shape[1]
    col_fraction, row_fraction = np.repeat(c.fraction, 3)[None, :], r.fraction[:, None]
    # a + (b - a) * f, in place: the same float64 operations as tfjs, with four buffers instead of a dozen.
    upper = _corner(pixels, w, r.low, c.low, r.valid_low, c.valid_low)
    right = _corner(pixels, w, r.low, c.high, r.valid_low, c.valid_high)
    right -= upper
    right *= col_fraction
    upper += right
    lower = _corner(pixels, w, r.high, c.low, r.valid_high, c.valid_low)
    right = _corner(pixels, w, r.high, c.high, r.valid_high, c.valid_high)
    right -= lower
    right *= col_fraction
    lower += right
    lower -= upper
    lower *= row_fraction
    upper += lower
    return upper.astype(np.float32).reshape(height, width, 3)


def pad_and_resize(rgb: np.ndarray, input_height: int, input_width: int, stretch: bool = False,
                   reverse_channels: bool = False) -> tuple[np.ndarray, Letterbox]:
    """uint8 photo -> float32 pixels (0..255) at the input size, and how it was placed."""
    box = letterbox_for(rgb.shape[0], rgb.shape[1], input_height, input_width, stretch)
    padding = (box.pad_top, box.pad_bottom, box.pad_left, box.pad_right)
    return resize_bilinear(rgb, input_height, input_width, padding, reverse_channels), box


def normalize(pixels: np.ndarray) -> np.ndarray:
    """MobileNet's input scaling, in float32 as tfjs does it, as a [1, H, W, 3] batch (a BGR view is flipped
    by the one copy)."""
    batch = np.empty((1, *pixels.shape), np.float32)
    batch[0] = pixels
    batch /= np.float32(127.5)
    batch -= np.float32(1.0)
    return batch


def preprocess(
    image: np.ndarray,
    input_size: int | tuple[int, int],
    stretch: bool = False,
    color_order: str = "rgb",
) -> tuple[np.ndarray, Letterbox]:
    """Photo -> a [1, H, W, 3] float32 batch in [-1, 1] and the Letterbox to map keypoints back."""
    input_height, input_width = (input_size, input_size) if isinstance(input_size, int) else input_size
    _check_color_order(color_order)
    channels = to_rgb(image, "rgb")  # channel count only: BGR is flipped while resizing, on far fewer pixels
    pixels, box = pad_and_resize(channels, input_height, input_width, stretch, reverse_channels=color_order == "bgr")
    return normalize(pixels), box


def check_image_file(path: str | Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) from the file's header, without decoding it; an ImageError for a file that is missing,
    empty, not an image Pillow knows, or larger than `max_pixels` (decoding it could exhaust memory)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, expected a photo file")
    if not path.is_file():
        raise ImageError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: file is empty")
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # ours below, with its own message
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageError(f"{path}: not a readable image") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    if width * height > max_pixels:
        raise ImageError(f"{path}: {width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,}; "
                         "raise it with --max-pixels if this photo is meant")
    return width, height


def read_bgr(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A photo file -> BGR uint8 (OpenCV's order), or an ImageError saying why not.

    The header is checked first (size limit), then the bytes are read by Python and decoded from memory: OpenCV's
    own file functions crash on file names that are not valid UTF-8. A JPEG or PNG cut short is refused: OpenCV
    would decode it with the missing part grey and only warn."""
    import cv2

    check_image_file(path, max_pixels)
    path = Path(path)
    # No photo of max_pixels needs more than 8 bytes a pixel (16-bit RGBA, uncompressed): a file claiming a small
    # picture in gigabytes of bytes is refused before it is read.
    data = read_bounded(path, ImageError, "photo", max_bytes=8 * max_pixels + 2**20)
    problem = container_problem(data)
    if problem:
        raise ImageError(f"{path}: {problem}")
    with reading(path, "not a readable image (OpenCV cannot decode it)", ImageError):
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"{path}: not a readable image (OpenCV cannot decode it)")
    return bgr


def container_problem(data: bytes) -> str | None:
    """What is wrong with a JPEG's or PNG's structure, checked before a decoder sees the bytes, or None. Decoders
    trust the lengths a file states: OpenCV's PNG reader allocated the 4 GB a 41-byte file's chunk claimed, and a
    file cut short decodes with its missing part grey."""
    if data[:2] == b"\xff\xd8":
        return _jpeg_problem(data)
    if data[:8] == PNG_SIGNATURE:
        return _png_problem(data)
    return None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CUT_SHORT = "the file is cut short (truncated download or copy?); it would decode partly grey"


def _png_problem(data: bytes) -> str | None:
    """Every chunk's length within the file and its CRC right, IHDR first, IEND reached (bytes after it are
    ignored, as decoders do)."""
    position, first = len(PNG_SIGNATURE), True
    while position + 12 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind, end = data[position + 4:position + 8], position + 12 + length
        if end > len(data):
            return (f"a PNG chunk ({kind!r}) claims {length:,} bytes, more than the file holds: " +
                    ("cut short" if length < len(data) else "damaged or crafted") + "; not decoded")
        if first and kind != b"IHDR":
            return "not a valid PNG: it does not start with its IHDR header"
        if zlib.crc32(data[position + 4:end - 4]) != int.from_bytes(data[end - 4:end], "big"):
            return f"a PNG chunk ({kind!r}) fails its checksum: the file is damaged"
        if kind == b"IEND":
            return None
        position, first = end, False
    return CUT_SHORT


def _jpeg_problem(data: bytes) -> str | None:
    """Every marker segment before the first scan within the file, and an end-of-image marker after the last scan."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return "not a valid JPEG: a damaged marker before its image data"
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:
            return "not a valid JPEG: it ends before its image data"
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if length < 2 or position + 2 + length > len(data):
            return CUT_SHORT if length >= 2 else "not a valid JPEG: a segment of impossible length"
        if marker == 0xDA:  # start of scan: entropy-coded data follows, up to an end-of-image marker
            return None if data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda") else CUT_SHORT
        position += 2 + length
    return CUT_SHORT


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A photo file -> RGB uint8, or an ImageError saying why not."""
    import cv2

    return cv2.cvtColor(read_bgr(path, max_pixels), cv2.COLOR_BGR2RGB)
