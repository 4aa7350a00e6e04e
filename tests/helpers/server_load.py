"""A bounded load test of `python -m posenet_port.serve`, as hostile clients load it: hundreds of connections that
never send a request, and clients that ask for a large shard and stop reading. It measures what the server
process holds (threads, resident memory) at the peak and after the stalled clients' timeout, and whether a
normal request is served once they are let go. `python tests/helpers/fuzzing.py` writes its figures into
FUZZING.md; `python tests/helpers/server_load.py` prints them."""
from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARD_BYTES = 64 << 20


@dataclass
class Load:
    half_open: int = 400  # connections that send nothing
    stalled: int = 150  # clients that ask for the shard and stop reading
    hold_s: float = 3.0  # how long the load is held while the server is sampled


def process_status(pid: int) -> tuple[int, int]:
    """(resident MB, threads) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["Threads"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, timeout: float = 5) -> int | str:
    """The status of one normal request, or what stopped it."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status
    except OSError as error:
        return type(error).__name__


def wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        if get(port, "/models/index.json", timeout=1) == 200:
            return
        time.sleep(0.2)
    raise RuntimeError("the server did not start: " + (process.stderr.read() if process.poll() is not None else ""))


def run(load: Load = Load()) -> dict:
    """Start the server on a build with one model and a 64 MB shard, load it, and measure."""
    with tempfile.TemporaryDirectory() as scratch:
        build = Path(scratch) / "build" / "model"
        build.mkdir(parents=True)
        (build / "model.json").write_text('{"format": "graph-model"}')
        (build / "shard.bin").write_bytes(b"\0" * SHARD_BYTES)
        port = free_port()
        process = subprocess.Popen([sys.executable, "-m", "posenet_port.serve", "--build", str(build.parent), "--port",
                                    str(port)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_until_serving(port, process)
            return _measure(process, port, load)
        finally:
            process.terminate()
            stderr = process.communicate(timeout=30)[1]
            if "Traceback" in stderr:
                raise RuntimeError(f"the server printed a traceback under load:\n{stderr[-2000:]}")


def _measure(process: subprocess.Popen, port: int, load: Load) -> dict:
    idle_mb, idle_threads = process_status(process.pid)
    sockets = []
    for _ in range(load.half_open):
        sockets.append(socket.create_connection(("127.0.0.1", port), timeout=30))
    for _ in range(load.stalled):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /models/model/shard.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sockets.append(sock)
    peak_mb, peak_threads = idle_mb, idle_threads
    end = time.time() + load.hold_s
    while time.time() < end:
        mb, threads = process_status(process.pid)
        peak_mb, peak_threads = max(peak_mb, mb), max(peak_threads, threads)
        time.sleep(0.05)
    during = get(port, "/models/index.json", timeout=2)
    started = time.time()
    after = get(port, "/models/index.json", timeout=2)
    while after != 200 and time.time() - started < 30:  # the stalled clients time out (PageHandler.timeout)
        time.sleep(0.5)
        after = get(port, "/models/index.json", timeout=2)
    recovered_s = time.time() - started
    settled_mb, settled_threads = process_status(process.pid)
    for sock in sockets:
        sock.close()
    return {"connections": load.half_open + load.stalled, "half_open": load.half_open, "stalled": load.stalled,
            "idle_mb": idle_mb, "idle_threads": idle_threads, "peak_mb": peak_mb, "peak_threads": peak_threads,
            "during": during, "after": after, "recovered_s": round(recovered_s, 1), "settled_mb": settled_mb,
            "settled_threads": settled_threads}


def markdown(figures: dict) -> list[str]:
    return [
        "## Server under load",
        "",
        f"`python -m posenet_port.serve` on a build with a {SHARD_BYTES >> 20} MB shard: {figures['half_open']} connections "
        f"that never send a request and {figures['stalled']} clients that ask for the shard and stop reading, "
        f"{figures['connections']} in all, held together.",
        "",
        "| | resident MB | threads |",
        "|---|---|---|",
        f"| idle | {figures['idle_mb']} | {figures['idle_threads']} |",
        f"| peak under load | {figures['peak_mb']} | {figures['peak_threads']} |",
        f"| once the stalled clients timed out | {figures['settled_mb']} | {figures['settled_threads']} |",
        "",
        f"A normal request during the load: {figures['during']} (every slot held: closed at once, not queued); "
        f"served ({figures['after']}) {figures['recovered_s']} s later, once the stalled clients' 10 s timeout let "
        "them go.",
    ]


if __name__ == "__main__":
    print("\n".join(markdown(run())))
