"""Outputs never lie and inputs are bounded: no output replaces an input or another output, a video that could
not be written whole is not published, colliding names are numbered, one rebuild per folder, and photos or model
files that are cut short, huge, deeply nested or not regular files end in one error line."""
from __future__ import annotations

import json
import os
import resource
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from helpers import REPO, run_module

from posenet_port._util.fileio import exclusive_folder
from posenet_port.benchmark.sections import demo_video
from posenet_port.errors import OutputError
from posenet_port.inference.preprocess import ImageError, load_image
from posenet_port.model.weights import WeightsError, load_weights

SOLVAY = REPO / "posenet_port" / "data" / "solvay1927.jpg"


def one_error_line(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:]
    assert message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return demo_video(tmp_path_factory.mktemp("video") / "pan.mp4", 12)


@pytest.mark.parametrize("dump_is", ["--video", "--output"])
def test_demo_refuses_an_output_that_is_an_input_or_another_output(video, tmp_path, dump_is):
    before = video.read_bytes()
    output = tmp_path / "annotated.mp4"
    dump = video if dump_is == "--video" else output
    result = run_module("demo", "--video", video, "--no-display", "--output", output, "--dump", dump)
    one_error_line(result, "is the same file as")
    assert "--dump" in result.stderr and dump_is in result.stderr
    assert video.read_bytes() == before and not output.exists()


def _limit_file_size():
    """A full disk, as far as this process can tell: writes past 300 kB fail with EFBIG instead of killing it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


@pytest.mark.slow
def test_demo_on_a_full_disk_publishes_nothing_and_says_so(video, frozen_pb, tmp_path):
    output = tmp_path / "annotated.avi"  # MJPG: about 50 kB a frame, so the limit cuts it mid-stream
    result = subprocess.run(
        [sys.executable, "-m", "posenet_port.demo", "--video", video, "--model", frozen_pb, "--no-display",
         "--output", output], capture_output=True, text=True, cwd=REPO, timeout=600, preexec_fn=_limit_file_size,
    )
    one_error_line(result, "could not be written whole")
    assert "wrote" not in result.stdout
    assert not output.exists() and not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


@pytest.mark.slow
def test_draw_numbers_photos_that_share_a_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "group.jpg").write_bytes(SOLVAY.read_bytes())
    result = run_module("estimate", tmp_path / "a" / "group.jpg", tmp_path / "b" / "group.jpg", "--draw", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["group-2_poses.png", "group_poses.png"]


def test_a_second_rebuild_into_the_same_folder_is_refused(tmp_path):
    with exclusive_folder(tmp_path / "build", "rebuild"):
        result = run_module("rebuild", "--out", tmp_path / "build", "--formats", "none")
    one_error_line(result, "another rebuild is writing into this folder")
    assert list((tmp_path / "build").iterdir()) == []
    with exclusive_folder(tmp_path / "build", "rebuild"):  # free again once its holder is gone
        pass


@pytest.mark.parametrize(
    "module, args, message",
    [
        ("rebuild", ["--formats", "none", "--out", "{file}"], "is a file, not a folder"),
        ("estimate", [SOLVAY, "--draw", "{file}"], "blocker: File exists; nothing was written"),
        ("estimate", [SOLVAY, "--draw", "{file}/inside"], "Not a directory; nothing was written"),
    ],
)
def test_an_output_where_a_file_stands_is_one_error_line(tmp_path, module, args, message):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    one_error_line(run_module(module, *[str(a).format(file=blocker) for a in args]), message)
    assert blocker.read_text() == "a file, not a folder"


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder no one may write into, root included: chmod for other users; for root (who ignores modes), the
    immutable attribute (chattr +i, which root can set on ext4 and most Linux file systems)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("NOT RUN: root cannot make a folder read-only here (chattr +i refused)")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize(
    "module, args",
    [
        ("rebuild", ["--formats", "none", "--out", "{folder}"]),
        ("rebuild", ["--formats", "none", "--out", "{folder}/build"]),
        ("estimate", [SOLVAY, "--draw", "{folder}"]),
        ("demo", ["--images", SOLVAY.parent / "people", "--no-display", "--max-frames", "2", "--dump",
                  "{folder}/poses.jsonl"]),
    ],
)
def test_a_read_only_output_is_one_error_line(read_only_folder, module, args):
    result = run_module(module, *[str(a).format(folder=read_only_folder) for a in args])
    # chmod gives EACCES, the immutable attribute EPERM: either way the OS's reason, on one line.
    reason = "Permission denied" if "Permission denied" in result.stderr else "Operation not permitted"
    one_error_line(result, reason)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(read_only_folder.iterdir()) == []


def test_a_photo_cut_short_is_refused(tmp_path):
    data = SOLVAY.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut short"):
        load_image(cut)
    assert load_image(SOLVAY).shape == (922, 2048, 3)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A small PNG file whose header claims `width` x `height` pixels."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_photo_too_large_to_decode_is_refused_from_its_header(tmp_path):
    huge = _png_header_only(tmp_path / "huge.png", 32768, 32768)
    with pytest.raises(ImageError, match="32768x32768 is 1,073,741,824 pixels, over the limit"):
        load_image(huge)
    one_error_line(run_module("estimate", huge, "--strict"), "raise it with --max-pixels")


def test_a_model_json_nested_too_deep_is_refused(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "model.json").write_text('{"modelTopology": ' * 5000 + "1" + "}" * 5000)
    with pytest.raises(WeightsError, match="nested 5000 levels deep"):
        load_weights(folder / "model.json")
    one_error_line(run_module("list_nodes", folder / "model.json"), "nested 5000 levels deep")


def test_a_fifo_as_a_shard_is_refused_not_waited_on(tmp_path):
    model = json.loads((REPO / "weights" / "posenet-mobilenet-v1-075" / "posenet.json").read_text())
    folder = tmp_path / "fifo"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(model))
    os.mkfifo(folder / model["weightsManifest"][0]["paths"][0])
    with pytest.raises(WeightsError, match="FIFO"):
        load_weights(folder)


def test_list_nodes_warns_of_a_missing_shard(tmp_path):
    model = json.loads((REPO / "weights" / "posenet-mobilenet-v1-075" / "posenet.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps(model))
    result = run_module("list_nodes", tmp_path / "model.json")
    assert result.returncode == 0
    assert "warning: weight shard" in result.stderr and "the model will not load" in result.stderr


def test_exclusive_folder_refuses_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        with exclusive_folder(tmp_path / "file", "rebuild"):
            pass


@pytest.mark.slow
def test_estimate_streams_photos_in_bounded_memory(tmp_path):
    """24 photos of 12 MP (36 MB each decoded), with the default engine on the shipped weights: one photo at a
    time, and no TensorFlow in the process (importing it alone peaks above 700 MB)."""
    import cv2

    ok, jpeg = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(SOLVAY)), (4000, 3000)))
    photos = [tmp_path / f"photo_{index:02d}.jpg" for index in range(24)]
    for photo in photos:
        photo.write_bytes(jpeg.tobytes())
    code = (
        "import sys; from posenet_port.cli.common import run_cli; from posenet_port.cli.estimate import main\n"
        "status = run_cli(main, sys.argv[1:])\n"
        "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(f'peak_kb={peak} tensorflow={\"tensorflow\" in sys.modules}', file=sys.stderr); sys.exit(status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *map(str, photos), "--json"],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.splitlines()) == 24
    assert "tensorflow=False" in result.stderr
    peak_mb = int(result.stderr.split("peak_kb=")[1].split()[0]) / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB for 24 photos of 12 MP")
    assert peak_mb < 400  # all 24 decoded at once would hold 864 MB of pixels alone


def test_rebuild_on_a_full_disk_is_one_error_line_and_leaves_nothing_final(tmp_path):
    out = tmp_path / "build"
    result = subprocess.run(
        [sys.executable, "-m", "posenet_port.rebuild", "--formats", "none", "--out", out], capture_output=True,
        text=True, cwd=REPO, timeout=600, preexec_fn=_limit_file_size,
    )
    one_error_line(result, "File too large; nothing was written under its final name")
    assert [p.name for p in out.iterdir()] == []


def test_list_nodes_refuses_a_fifo_instead_of_waiting_on_it(tmp_path):
    os.mkfifo(tmp_path / "model.pb")
    one_error_line(run_module("list_nodes", tmp_path / "model.pb"), "model file is not a regular file")
