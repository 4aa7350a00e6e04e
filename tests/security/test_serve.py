"""`posenet_port.web.server` as a hostile client or an unlucky user meets it: symlinks, long names, foreign Host headers,
idle connections, bursts, HEAD and bad ports."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import run_module

from posenet_port.formats.artifacts import MANIFEST_NAME
from posenet_port.model.spec import ModelSpec
from posenet_port.web.server import PageHandler, make_server, model_index


@pytest.fixture()
def server(tmp_path):
    build = tmp_path / "build"
    (build / "model").mkdir(parents=True)
    (build / "model" / "model.json").write_text('{"format": "graph-model"}')
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the web")
    (build / "model" / "leak.bin").symlink_to(secret)
    (build / "linked").symlink_to(tmp_path)  # a model folder that is a link out of the build
    (tmp_path / "model.json").write_text("{}")
    running = make_server(build, 0)
    threading.Thread(target=running.serve_forever, daemon=True).start()
    yield running
    running.shutdown()
    running.server_close()


def request(server, path: str, method: str = "GET", host: str | None = None) -> tuple[int, bytes, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.putrequest(method, path, skip_host=host is not None)
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body, dict(response.getheaders())


def test_model_files_are_served_and_links_out_of_the_build_are_not(server):
    assert request(server, "/models/model/model.json")[:2] == (200, b'{"format": "graph-model"}')
    assert request(server, "/models/model/leak.bin")[0] == 404
    assert request(server, "/models/linked/secret.txt")[0] == 404
    assert request(server, "/models/linked/model.json")[0] == 404


def test_a_very_long_name_is_answered_and_the_server_lives_on(server):
    assert request(server, "/models/model/" + "a" * 5000)[0] == 414
    assert request(server, "/models/model/" + "a" * 2000)[0] == 404  # too long for the file system
    assert request(server, "/models/index.json")[0] == 200


def test_head_answers_like_get_without_a_body(server):
    status, body, headers = request(server, "/models/model/model.json", "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len('{"format": "graph-model"}'))


@pytest.mark.parametrize("host, status", [("localhost:8000", 200), ("[::1]:8000", 200), ("evil.example", 421),
                                          ("127.0.0.1.evil.example:80", 421)])
def test_only_localhost_names_are_served(server, host, status):
    assert request(server, "/models/index.json", host=host)[0] == status


def test_idle_connections_are_closed(server, monkeypatch):
    assert PageHandler.timeout is not None and PageHandler.timeout <= 30
    monkeypatch.setattr(PageHandler, "timeout", 0.5)  # the same mechanism, sooner
    with socket.create_connection(server.server_address, timeout=5) as idle:
        start = time.monotonic()
        assert idle.recv(1) == b""  # the server hung up on a client that said nothing
        assert time.monotonic() - start < 4


def test_a_burst_of_connections_is_not_dropped(server):
    """A dropped connection would wait a second for its SYN to be sent again: with a 0.9 s limit it fails."""
    def connect(_):
        with socket.create_connection(server.server_address, timeout=0.9) as sock:
            sock.sendall(b"GET /models/index.json HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return sock.recv(12)

    sockets_held = [socket.create_connection(server.server_address) for _ in range(20)]  # busy threads
    try:
        with ThreadPoolExecutor(50) as pool:
            assert all(reply.startswith(b"HTTP/1.0 200") for reply in pool.map(connect, range(50)))
    finally:
        for sock in sockets_held:
            sock.close()


@pytest.mark.parametrize("port", ["-1", "70000"])
def test_a_port_that_is_not_a_port_is_one_error_line(tmp_path, port):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_text("{}")
    result = run_module("serve", "--build", tmp_path, "--port", port)
    assert result.returncode == 2 and f"port {port} is not a port number" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_index_gives_each_model_the_settings_its_manifest_spec_records(tmp_path):
    build = tmp_path / "build"
    for name in ("stride8", "foreign"):
        (build / name).mkdir(parents=True)
        (build / name / "model.json").write_text('{"format": "graph-model"}')
    spec = ModelSpec(multiplier=0.75, output_stride=8, format="tfjs", variant="float32")
    manifest = {"artifacts": [{"path": "stride8/model.json", "spec": spec.to_dict()}]}
    (build / MANIFEST_NAME).write_text(json.dumps(manifest))
    assert model_index(build) == [
        {"name": "foreign", "spec": None},  # the page refuses it: its stride would be a guess
        {"name": "stride8", "spec": {"architecture": "MobileNetV1", "multiplier": 0.75, "outputStride": 8,
                                     "inputResolution": 257}}]


def test_a_null_byte_in_the_path_is_a_bad_request_and_the_server_lives_on(server):
    assert request(server, "/models/model/%00")[0] == 400
    assert request(server, "/%00/index.json")[0] == 400
    assert request(server, "/models/index.json")[0] == 200


def test_host_names_are_case_insensitive(server):
    assert request(server, "/models/index.json", host="LOCALHOST:8000")[0] == 200
    assert request(server, "/models/index.json", host="Evil.example")[0] == 421


def test_a_huge_manifest_is_not_read(tmp_path):
    build = tmp_path / "build"
    (build / "model").mkdir(parents=True)
    (build / "model" / "model.json").write_text("{}")
    with open(build / MANIFEST_NAME, "wb") as handle:
        handle.truncate(200 << 20)  # 200 MB that take no disk
    start = time.perf_counter()
    assert model_index(build) == [{"name": "model", "spec": None}]
    assert time.perf_counter() - start < 2


def test_connections_and_threads_are_capped_and_stalled_clients_let_go(server):
    from posenet_port.web.server import MAX_CONNECTIONS

    before = threading.active_count()
    idle = [socket.create_connection(server.server_address, timeout=10) for _ in range(MAX_CONNECTIONS + 60)]
    time.sleep(1)
    held = threading.active_count() - before
    print(f"{len(idle)} idle connections hold {held} server threads (cap {MAX_CONNECTIONS})")
    assert held <= MAX_CONNECTIONS
    for sock in idle:
        sock.close()
    deadline = time.time() + 20
    while time.time() < deadline and threading.active_count() - before > 0:
        time.sleep(0.2)
    assert request(server, "/models/index.json")[0] == 200


def test_clients_that_go_away_mid_response_leave_no_traceback(server, capfd):
    shard = server.RequestHandlerClass.keywords["build_dir"] / "model" / "shard.bin"
    shard.write_bytes(b"\0" * (8 << 20))
    for _ in range(20):
        sock = socket.create_connection(server.server_address, timeout=10)
        sock.sendall(b"GET /models/model/shard.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.recv(1024)
        sock.close()
    time.sleep(1)
    assert request(server, "/models/index.json")[0] == 200
    assert "Traceback" not in capfd.readouterr().err
