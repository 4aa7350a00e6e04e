"""Coverage-guided fuzzing (atheris: libFuzzer's mutations steered by this project's line coverage) of every
reader of outside files. One harness per reader; the property of every input: it is read, or refused with the
project's own error, within the harness's time and memory limits. Anything else (another exception, a timeout,
memory over the limit) is a finding, which libFuzzer saves as a file.

    python tests/fuzz/harness.py HARNESS [libFuzzer flags] [CORPUS ...]

`python tests/fuzz/campaign.py` (`make fuzz`) runs them all with a time budget each and writes FUZZING.md.
atheris is a development dependency (requirements-fuzz.txt), never a user's.
"""
from __future__ import annotations

import itertools
import json
import os
import pkgutil
import shutil
import socket
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from posenet_port.formats.probe import IN_CHILD  # noqa: E402 - after the path above


@dataclass(frozen=True)
class Harness:
    """`setup(folder)` prepares what the reader needs beside the fuzzed bytes and returns the function that reads
    one input; `seconds` and `megabytes` are the limits of one input (issue 30: any photo under 1 MB within 2 s and
    400 MB); `dictionary`, libFuzzer's tokens for the format."""

    setup: Callable[[Path], Callable[[bytes], object]]
    seconds: int = 10
    megabytes: int = 1500
    dictionary: str | None = None
    max_len: int = 64 << 10
    suffix: str = ""  # of the file the input becomes: a finding is kept under it (tests/data/fuzz-regressions)


def weights_graph_model(folder: Path) -> Callable[[bytes], object]:
    from posenet_port.model.weights import SHIPPED_WEIGHTS, load_weights

    shutil.copy(SHIPPED_WEIGHTS.directory / "posenet.bin", folder / "posenet.bin")

    def read(data: bytes) -> object:
        (folder / "model.json").write_bytes(data)
        return load_weights(folder / "model.json")
    return read


def weights_shard(folder: Path) -> Callable[[bytes], object]:
    """The shard's bytes: the input repeated to the length the manifest states (so the size check passes and the
    values are read), or as it is when its first bit is set."""
    from posenet_port.model.weights import SHIPPED_WEIGHTS, load_weights

    shutil.copy(SHIPPED_WEIGHTS.model_path, folder / "model.json")
    size = (SHIPPED_WEIGHTS.directory / "posenet.bin").stat().st_size

    def read(data: bytes) -> object:
        whole = data if not data or data[0] & 1 else (data * (size // len(data) + 1))[:size]
        (folder / "posenet.bin").write_bytes(whole)
        return load_weights(folder / "model.json")
    return read


def weights_checkpoint(folder: Path) -> Callable[[bytes], object]:
    from posenet_port.model.weights import load_weights

    for name, array in load_weights().variables().items():
        (folder / name.replace("/", "_")).write_bytes(array.astype("<f4").tobytes())

    def read(data: bytes) -> object:
        (folder / "manifest.json").write_bytes(data)
        return load_weights(folder / "manifest.json")
    return read


def weights_checkpoint_shard(folder: Path) -> Callable[[bytes], object]:
    """One variable file of a whole checkpoint: the first byte picks which (and whether gzip-compressed, whether
    repeated to the length its shape needs), the rest is its content."""
    import gzip

    from posenet_port.model.weights import load_weights

    manifest = {}
    for name, array in load_weights().variables().items():
        manifest[name] = {"filename": name.replace("/", "_"), "shape": list(array.shape)}
        (folder / manifest[name]["filename"]).write_bytes(array.astype("<f4").tobytes())
    (folder / "manifest.json").write_text(json.dumps(manifest))
    files = sorted(entry["filename"] for entry in manifest.values())
    sizes = {name: (folder / name).stat().st_size for name in files}
    originals = {name: (folder / name).read_bytes() for name in files}

    def read(data: bytes) -> object:
        choice, content = (data[0], data[1:]) if data else (0, b"")
        victim = files[choice % len(files)]
        if content and not choice & 0x80:
            content = (content * (sizes[victim] // len(content) + 1))[:sizes[victim]]
        (folder / victim).write_bytes(gzip.compress(content) if choice & 0x40 else content)
        try:
            return load_weights(folder / "manifest.json")
        finally:
            (folder / victim).write_bytes(originals[victim])
    return read


def openvino_weights(folder: Path) -> Callable[[bytes], object]:
    """An OpenVINO IR with constants (tests/fuzz/fixtures/tiny-openvino.xml) whose .bin is the input."""
    shutil.copy(HERE / "fixtures" / "tiny-openvino.xml", folder / "model.xml")

    def read(data: bytes) -> object:
        return _list_and_open(folder / "model.bin", data, opened=folder / "model.xml")
    return read


def model_file(name: str) -> Callable[[Path], Callable[[bytes], object]]:
    """A model file of one format, through both doors that read one: `list_nodes` (its nodes and their roles)
    and `estimate --model` (the format's runtime opens it)."""
    def setup(folder: Path) -> Callable[[bytes], object]:
        path = folder / name
        if path.suffix == ".xml":
            path.with_suffix(".bin").write_bytes(b"")
        return lambda data: _list_and_open(path, data)
    return setup


def saved_model(folder: Path) -> Callable[[bytes], object]:
    """A SavedModel folder whose saved_model.pb is the input."""
    model = folder / "saved"
    (model / "variables").mkdir(parents=True)
    return lambda data: _list_and_open(model / "saved_model.pb", data, opened=model)


def _list_and_open(path: Path, data: bytes, opened: Path | None = None) -> None:
    from posenet_port.errors import PosenetPortError
    from posenet_port.formats.listing import read_model
    from posenet_port.formats.registry import open_model
    from posenet_port.formats.roles import identify_roles

    path.write_bytes(data)
    for door in (lambda target: identify_roles(read_model(target)), open_model):
        try:
            door(opened or path)
        except PosenetPortError:
            pass


def photo(folder: Path) -> Callable[[bytes], object]:
    from posenet_port.inference.preprocess import load_image

    def read(data: bytes) -> object:
        (folder / "photo").write_bytes(data)
        return load_image(folder / "photo")
    return read


def video(folder: Path) -> Callable[[bytes], object]:
    from posenet_port.inference.stream import CaptureSource

    def read(data: bytes) -> object:
        (folder / "video.avi").write_bytes(data)
        return list(itertools.islice(CaptureSource(folder / "video.avi").frames(), 3))
    return read


def server_request(folder: Path) -> Callable[[bytes], object]:
    """Raw bytes to the page server (in this process, on a build with one model): answered or closed, and never
    an error the server reports as its own."""
    from posenet_port.web.server import make_server

    (folder / "build" / "model").mkdir(parents=True)
    (folder / "build" / "model" / "model.json").write_text('{"format": "graph-model"}')
    (folder / "build" / "model" / "shard.bin").write_bytes(b"\0" * 300_000)
    server = make_server(folder / "build", 0)
    failures: list[BaseException] = []
    reported = server.handle_error

    def handle_error(request, address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            failures.append(error)
        reported(request, address)
    server.handle_error = handle_error
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def read(data: bytes) -> object:
        with socket.create_connection(server.server_address, timeout=5) as client:
            try:
                client.sendall(data)
                client.shutdown(socket.SHUT_WR)
                while client.recv(65536):
                    pass
            except OSError:
                pass  # the server may close first: a refusal
        if failures:
            raise failures.pop()
        return None
    return read


HARNESSES: dict[str, Harness] = {
    "weights-graph-model": Harness(weights_graph_model, dictionary="json.dict"),
    "weights-shard": Harness(weights_shard, max_len=4096),
    "weights-checkpoint": Harness(weights_checkpoint, dictionary="json.dict"),
    "weights-checkpoint-shard": Harness(weights_checkpoint_shard, max_len=4096),
    "list-nodes-tfjs": Harness(model_file("model.json"), dictionary="json.dict", suffix=".json"),
    "list-nodes-pb": Harness(model_file("model.pb"), suffix=".pb"),
    "list-nodes-savedmodel": Harness(saved_model, suffix=".pb"),
    "list-nodes-tflite": Harness(model_file("model.tflite"), suffix=".tflite"),
    "list-nodes-onnx": Harness(model_file("model.onnx"), suffix=".onnx"),
    "list-nodes-openvino": Harness(model_file("model.xml"), dictionary="xml.dict", suffix=".xml"),
    "list-nodes-openvino-bin": Harness(openvino_weights, suffix=".bin"),
    "photo": Harness(photo, seconds=2, megabytes=400, max_len=16 << 10, suffix=".img"),
    "video": Harness(video, seconds=2, megabytes=400, suffix=".avi"),
    "server-request": Harness(server_request, seconds=5, megabytes=200, dictionary="http.dict", max_len=4096),
}


def replay(name: str, data: bytes, folder: Path) -> None:
    """One input through a harness's reader, as users meet it (native readers behind the probe): raises whatever
    is not the project's own refusal."""
    from posenet_port.errors import PosenetPortError

    try:
        HARNESSES[name].setup(folder)(data)
    except PosenetPortError:
        pass


def resident_mb() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def import_instrumented() -> None:
    """Every module of posenet_port, imported under atheris' instrumentation: its coverage steers the fuzzer."""
    import atheris

    with atheris.instrument_imports(include=["posenet_port"]):
        import posenet_port

        for module in pkgutil.walk_packages(posenet_port.__path__, "posenet_port."):
            if not module.name.startswith(("posenet_port.cli", "posenet_port.benchmark")):
                __import__(module.name)


def main(argv: list[str]) -> None:
    import atheris

    if len(argv) < 2 or argv[1] not in HARNESSES:
        sys.exit(f"usage: {argv[0]} HARNESS [libFuzzer flags] [CORPUS ...]; harnesses: {', '.join(HARNESSES)}")
    name, harness = argv[1], HARNESSES[argv[1]]
    # Native readers run here, not in probe.py's child: a crash is then a finding libFuzzer keeps (the probe
    # would turn it into a refusal, which is what users get; tests/security/test_fuzz_regressions.py checks that).
    os.environ[IN_CHILD] = "1"
    import_instrumented()
    from posenet_port.errors import PosenetPortError

    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    read = harness.setup(folder)
    try:
        read(b"")  # the first call imports what the reader needs lazily: the memory baseline is taken after it
    except PosenetPortError:
        pass
    flags = [f"-timeout={harness.seconds}", f"-rss_limit_mb={resident_mb() + harness.megabytes}",
             f"-max_len={harness.max_len}"]
    if harness.dictionary:
        flags.append(f"-dict={HERE / 'dictionaries' / harness.dictionary}")

    def one_input(data: bytes) -> None:
        try:
            read(data)
        except PosenetPortError:
            pass  # refused, with the project's own error: the property holds

    given = {flag.split("=")[0] for flag in argv[2:] if flag.startswith("-")}
    atheris.Setup([argv[0], *[f for f in flags if f.split("=")[0] not in given], *argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
