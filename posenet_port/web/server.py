"""The server behind `python -m posenet_port.serve`: the browser page and the tfjs models `rebuild` wrote, on
localhost, offline.

Routes: `/` the page (posenet_port/web), `/vendor/...` TensorFlow.js, its wasm backend and posenet 2.2.2 from
the repo's npm packages, `/models/index.json` the tfjs models in the build folder with
the settings their manifest spec records (multiplier, output stride, input size), `/models/<name>/...` their
files. Nothing outside those folders is served, symlinks included; only requests to a localhost name are answered
(a page elsewhere cannot reach the server by DNS rebinding), and idle connections are closed after 10 s.
"""
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import stat
import sys
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from posenet_port._util.nodejs import node_modules_dir
from posenet_port.errors import PosenetPortError
from posenet_port.formats.artifacts import manifest_specs
from posenet_port.model.spec import DEFAULT_INPUT_SIZE

WEB_DIR = Path(__file__).resolve().parent
VENDOR_FILES = {
    "tf.min.js": "@tensorflow/tfjs/dist/tf.min.js",
    "tf-backend-wasm.min.js": "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    "tfjs-backend-wasm.wasm": "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
    "tfjs-backend-wasm-simd.wasm": "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    "tfjs-backend-wasm-threaded-simd.wasm": "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
    "posenet.min.js": "@tensorflow-models/posenet/dist/posenet.min.js",
}
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".json": "application/json",
                 ".wasm": "application/wasm", ".bin": "application/octet-stream"}


class ServeError(PosenetPortError):
    """The page cannot be served: no build folder, a busy port."""


def tfjs_models(build_dir: Path) -> list[str]:
    """Folders of the build holding a tfjs model.json, by name."""
    return sorted(p.parent.name for p in build_dir.glob("*/model.json"))


def model_index(build_dir: Path) -> list[dict]:
    """What the page may load: each tfjs model with the posenet.load settings its manifest spec records.

    A model no manifest lists gets `"spec": null`; the page refuses it rather than guess its stride. The manifest
    is read once (and only up to its size limit), whatever the number of models."""
    specs = manifest_specs(build_dir)
    index = []
    for name in tfjs_models(build_dir):
        spec = specs.get((build_dir / name / "model.json").resolve())
        settings = None if spec is None else {
            "architecture": "MobileNetV1", "multiplier": spec.multiplier, "outputStride": spec.output_stride,
            "inputResolution": spec.input_size or DEFAULT_INPUT_SIZE}
        index.append({"name": name, "spec": settings})
    return index


MAX_URL_LENGTH = 2048
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_CONNECTIONS = 64  # threads serving at once; more connections are closed at once, not queued in memory
CHUNK_BYTES = 64 * 1024  # files are streamed: a client that stops reading holds one chunk, not the whole shard


class PageHandler(BaseHTTPRequestHandler):
    timeout = 10  # seconds an idle or stalled connection may hold a thread (reading the request or the response)

    def __init__(self, *args, build_dir: Path, modules: Path, **kwargs) -> None:
        self.build_dir, self.modules = build_dir, modules
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: the page's own status line says what happens

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        found = self._route()
        if found is not None:
            self._send(*found)

    def do_HEAD(self) -> None:  # noqa: N802 - the base class's name
        found = self._route()
        if found is not None:
            self._send(*found, body=False)

    def _route(self) -> tuple[bytes | Path, str] | None:
        """(content or the file to stream, suffix) for the request, or None once an error was sent."""
        if len(self.path) > MAX_URL_LENGTH:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return None
        # Only local names: a page on another site cannot reach this server through DNS rebinding.
        if _host_name(self.headers.get("Host")) not in LOCAL_HOSTS:
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "only localhost names are served")
            return None
        parts = [unquote(p) for p in urlparse(self.path).path.split("/") if p]
        if any("\x00" in part for part in parts):
            self.send_error(HTTPStatus.BAD_REQUEST, "a null byte in the path")
            return None
        if not parts:
            return self._file(WEB_DIR, WEB_DIR / "index.html")
        if parts[0] == "vendor" and len(parts) == 2 and parts[1] in VENDOR_FILES:
            return self._file(self.modules, self.modules / VENDOR_FILES[parts[1]])
        if parts[0] == "models":
            models = tfjs_models(self.build_dir)
            if parts[1:] == ["index.json"]:
                return json.dumps(model_index(self.build_dir)).encode(), ".json"
            if len(parts) == 3 and parts[1] in models and "/" not in parts[2] and parts[2] not in ("", ".", ".."):
                return self._file(self.build_dir, self.build_dir / parts[1] / parts[2])
        if len(parts) == 1 and parts[0] in ("index.html", "app.js", "tracking.js"):
            return self._file(WEB_DIR, WEB_DIR / parts[0])
        self.send_error(HTTPStatus.NOT_FOUND)
        return None

    def _file(self, root: Path, path: Path) -> tuple[Path, str] | None:
        """The file, if its real path (symlinks followed) stays inside `root` and it is a regular file."""
        try:
            real = path.resolve()
            if real.is_relative_to(root.resolve()) and stat.S_ISREG(real.stat().st_mode):
                return real, path.suffix
        except OSError:
            pass  # a name too long, a loop of links, a file that went away: all just not found
        self.send_error(HTTPStatus.NOT_FOUND)
        return None

    def _send(self, content: bytes | Path, suffix: str, body: bool = True) -> None:
        try:
            source = open(content, "rb") if isinstance(content, Path) else io.BytesIO(content)  # noqa: SIM115
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with source:
            size = os.fstat(source.fileno()).st_size if isinstance(content, Path) else len(content)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPES.get(suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                shutil.copyfileobj(source, self.wfile, CHUNK_BYTES)


def _host_name(header: str | None) -> str:
    """The Host header without its port: 'localhost:8000' -> 'localhost', '[::1]:8000' -> '[::1]'."""
    header = (header or "").lower()  # host names are case-insensitive
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


class PageServer(ThreadingHTTPServer):
    """At most MAX_CONNECTIONS threads; a client that goes away mid-response is not an error worth a traceback."""

    request_queue_size = 128  # a page load opens a burst of connections; 5 (the default) drops some of them
    daemon_threads = True

    def __init__(self, *args, **kwargs) -> None:
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: closed now rather than holding memory and a thread
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            print(f"error: serving {client_address[0]}: {type(error).__name__}: {error}", file=sys.stderr)


def make_server(build_dir: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    build_dir = Path(build_dir)
    if not 0 <= port <= 65535:
        raise ServeError(f"port {port} is not a port number; use 0 to 65535 (0: any free port)")
    if not build_dir.is_dir():
        raise ServeError(f"{build_dir}: no build folder; run `make rebuild` first or pass --build DIR")
    if not tfjs_models(build_dir):
        raise ServeError(f"{build_dir}: holds no tfjs model (*/model.json); run `make rebuild` first")
    handler = partial(PageHandler, build_dir=build_dir.resolve(), modules=node_modules_dir())
    try:
        return PageServer((host, port), handler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} is already in use; pick another with --port") from None
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None
