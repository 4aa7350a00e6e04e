"""Mutations of model files for the fuzz tests: each strategy yields a function that damages a model in a folder.

Shared by tests/security/test_fuzz.py (a bounded budget in CI) and `python tests/helpers/fuzzing.py --cases N` (the long run).
"""
from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
import shutil
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

JSON_VALUES: list[Any] = [None, True, 0, -1, 3, 2**62, -(2**40), 1.5, math.nan, math.inf, "", "x", "float32", [], [1, 2],
                          [-3, 4], {}, {"dtype": "uint8"}]
DTYPES = ["float32", "int32", "bool", "float16", "uint8", "complex64", "string", "", None, 7]
BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e300, "0.1", None, [], 2**70]
SHAPES = [[], [0], [-1], [3, 3, 3, 24], [2**31, 2**31], [10**12], [1, 1, 384, 2**40], [3, "3"], "shape", None, [1.5]]


def _json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _json_paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value[:6]):  # the first items of long lists are enough
            paths += _json_paths(child, prefix + (index,))
    return paths


def _parent(document: Any, path: tuple) -> tuple[Any, Any]:
    node = document
    for key in path[:-1]:
        node = node[key]
    return node, path[-1]


NESTED = re.compile(r'"__nested_(\d+)__"')


def nested(depth: int) -> str:
    """A stand-in that dump_json writes as a value nested `depth` levels deep in objects and lists (Python's
    parser recurses, and so does its writer: deep enough, both die)."""
    return f"__nested_{depth}__"


def dump_json(document: Any) -> str:
    def deep(match: re.Match) -> str:
        depth = int(match.group(1))
        objects, lists = depth // 2, depth - depth // 2
        return '{"node": ' * objects + "[" * lists + "0" + "]" * lists + "}" * objects
    return NESTED.sub(deep, json.dumps(document))


def mutate_json(document: Any, rng: random.Random) -> str:
    """Apply one random mutation to a model.json document in place; returns what was done."""
    kind = rng.choice(["delete", "replace", "shape", "dtype", "quantization", "rename", "nest"])
    manifest = document.get("weightsManifest") if isinstance(document, dict) else None
    groups = [g for g in manifest if isinstance(g, dict)] if isinstance(manifest, list) else []  # earlier mutations
    weights = [w for group in groups if isinstance(group.get("weights"), list) for w in group["weights"]
               if isinstance(w, dict)]
    if kind in ("shape", "dtype", "quantization") and weights:
        spec = rng.choice(weights)
        if kind == "shape":
            spec["shape"] = rng.choice(SHAPES)
        elif kind == "dtype":
            spec["dtype"] = rng.choice(DTYPES)
        else:
            spec["quantization"] = {"dtype": rng.choice(DTYPES), "scale": rng.choice(BAD_NUMBERS), "min": rng.choice(BAD_NUMBERS)}
        return f"{kind} of {spec.get('name')}"
    paths = _json_paths(document)
    if not paths:
        return "nothing to mutate"
    path = rng.choice(paths)
    parent, key = _parent(document, path)
    if kind == "delete":
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[str(key) + "_"] = parent.pop(key)
    elif kind == "nest":
        depth = rng.choice([10, 60, 70, 900, 5000])
        parent[key] = nested(depth)
        return f"nest {depth} deep at {'/'.join(map(str, path))}"
    else:
        parent[key] = rng.choice(JSON_VALUES)
    return f"{kind} {'/'.join(map(str, path))}"


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(["truncate", "extend", "shuffle", "flip", "nan"])
    if not data:
        return bytes(rng.getrandbits(8) for _ in range(16)), "fill"
    if kind == "truncate":
        return data[: rng.randrange(len(data))], kind
    if kind == "extend":
        return data + bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64))), kind
    if kind == "shuffle":
        cut = rng.randrange(len(data))
        return data[cut:] + data[:cut], kind
    mutable = bytearray(data)
    for _ in range(rng.randrange(1, 16)):
        position = rng.randrange(len(mutable))
        if kind == "flip":
            mutable[position] ^= 1 << rng.randrange(8)
        else:  # a NaN (or Inf) float32 at an aligned position
            position -= position % 4
            mutable[position : position + 4] = rng.choice([b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f"])[: len(mutable) - position]
    return bytes(mutable), kind


SPECIAL_FILES = ["fifo", "folder", "dangling link", "link to /dev/zero", "sparse 6 GB", "link to a fifo"]


def special_file(target: Path, rng: random.Random) -> str:
    """One file of a model (the file itself, or one in its folder) replaced by what is not a model file: a FIFO
    (a read blocks forever), /dev/zero (never ends), a sparse 6 GB file keeping the original's first bytes (its
    magic), a folder or a dangling link."""
    files = sorted(p for p in target.rglob("*") if p.is_file()) if target.is_dir() else [target]
    victim, kind = rng.choice(files), rng.choice(SPECIAL_FILES)
    head = victim.read_bytes()[:4096]
    victim.unlink()
    if kind == "fifo":
        os.mkfifo(victim)
    elif kind == "folder":
        victim.mkdir()
    elif kind == "dangling link":
        victim.symlink_to(victim.parent / "nowhere")
    elif kind == "link to /dev/zero":
        victim.symlink_to("/dev/zero")
    elif kind == "link to a fifo":
        fifo = victim.parent / f".{victim.name}.fifo"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        victim.symlink_to(fifo)
    else:
        victim.write_bytes(head)
        os.truncate(victim, 6 << 30)
    return f"{victim.name}: {kind}"


def latin1_shard(directory: Path) -> str:
    """A valid model whose shard has a name only bytes can spell."""
    shard = next(directory.glob("*.bin"))
    renamed = shard.with_name(os.fsdecode(b"poids-\xe9t\xe9.bin"))
    shard.rename(renamed)
    document = json.loads((directory / "model.json").read_text())
    document["weightsManifest"][0]["paths"] = [renamed.name]
    (directory / "model.json").write_text(json.dumps(document))
    return "latin-1 shard name"


def damage_graph_model(directory: Path, rng: random.Random) -> str:
    """One to three mutations of model.json and/or its shard, or a shard that is not a regular file."""
    if rng.random() < 0.03:
        return latin1_shard(directory)
    notes = []
    path = directory / "model.json"
    document = json.loads(path.read_text())  # mutated in memory, written once: a nested value cannot be read back
    for _ in range(rng.randrange(1, 4)):
        if rng.random() < 0.6:
            notes.append(mutate_json(document, rng))
            path.write_text(dump_json(document))
        else:
            shard = next(directory.glob("*.bin"), None)
            if shard is not None:
                data, kind = mutate_bytes(shard.read_bytes(), rng)
                shard.write_bytes(data)
                notes.append(f"shard {kind}")
    return "; ".join(notes)


def damage_checkpoint(directory: Path, rng: random.Random) -> str:
    """Mutations of a tfjs-models checkpoint: manifest.json entries or one variable file (plain or gzip)."""
    if rng.random() < 0.5:
        path = directory / "manifest.json"
        document = json.loads(path.read_text())
        entry = document[rng.choice(sorted(document))]
        choice = rng.choice(["shape", "filename", "replace"])
        if choice == "shape":
            entry["shape"] = rng.choice(SHAPES)
        elif choice == "filename":
            entry["filename"] = rng.choice(["", "missing", "../outside", "/etc/hostname", 5, None])
        else:
            parent, key = _parent(document, rng.choice(_json_paths(document)))
            parent[key] = rng.choice(JSON_VALUES)
        path.write_text(json.dumps(document))
        return f"manifest {choice}"
    files = sorted(p for p in directory.iterdir() if p.name != "manifest.json")
    target = rng.choice(files)
    data = target.read_bytes()
    if data[:2] == b"\x1f\x8b" and rng.random() < 0.5:  # corrupt the gzip stream itself
        data, kind = mutate_bytes(data, rng)
    else:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        raw, kind = mutate_bytes(raw, rng)
        data = gzip.compress(raw) if data[:2] == b"\x1f\x8b" else raw
    target.write_bytes(data)
    return f"{target.name} {kind}"


def damage_file(path: Path, rng: random.Random) -> str:
    """For list_nodes: mutate any model file's bytes (a .pb, a .tflite, a model.json)."""
    data, kind = mutate_bytes(path.read_bytes(), rng)
    path.write_bytes(data)
    return kind


def damage_photo(path: Path, rng: random.Random) -> str:
    """A photo with its bytes damaged, or (PNG) its header claiming other, often huge, dimensions."""
    data = path.read_bytes()
    if rng.random() < 0.4 and data[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = rng.choice([0, 1, 2**15, 2**16 - 1, 2**31 - 1]), rng.choice([0, 1, 2**14, 2**31 - 1])
        header = data[16:29]
        header = struct.pack(">II", width, height) + header[8:]
        chunk = b"IHDR" + header
        path.write_bytes(data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:])
        return f"header {width}x{height}"
    data, kind = mutate_bytes(data, rng)
    path.write_bytes(data)
    return kind


def fresh_copy(source: Path, destination: Path) -> Path:
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination)
    return destination


Damage = Callable[[Path, random.Random], str]


# --------------------------------------------------------------------------------------------------------------
# One case, and the long run
# --------------------------------------------------------------------------------------------------------------


def load_graph_model(directory: Path) -> object:
    from posenet_port.model.weights import load_weights

    return load_weights(directory / "model.json")


def load_checkpoint(directory: Path) -> object:
    from posenet_port.model.weights import load_weights

    return load_weights(directory / "manifest.json")


def inspect_model(path: Path) -> object:
    from posenet_port.formats.listing import read_model
    from posenet_port.formats.roles import identify_roles

    return identify_roles(read_model(path))


def run_in_runtime(path: Path) -> object:
    """Open a model file in its format's runtime and run one small image: parsing and running are both native code."""
    import numpy as np

    from posenet_port.formats.registry import open_model

    return open_model(path, 1)(np.zeros((1, 33, 33, 3), np.float32))


def damage_ir(directory: Path, rng: random.Random) -> str:
    """An OpenVINO IR with its graph (.xml) or its weights (.bin) bytes damaged."""
    path = rng.choice([directory / "model.xml", directory / "model.bin"])
    return f"{path.suffix}: {damage_file(path, rng)}"


def damage_saved_model(directory: Path, rng: random.Random) -> str:
    """A SavedModel with its graph (saved_model.pb) or its variables' bytes damaged."""
    path = rng.choice([directory / "saved_model.pb", *sorted((directory / "variables").glob("variables.*"))])
    return f"{path.name}: {damage_file(path, rng)}"


def load_ir(directory: Path) -> object:
    return run_in_runtime(directory / "model.xml")


EXTERNAL_PLACES = ["initializer", "Constant value", "attribute of another node", "subgraph", "sparse initializer",
                   "sparse Constant value"]


def external_data(path: Path, rng: random.Random) -> str:
    """The ONNX model with one tensor whose data is said to live in `secret.txt` beside it (a file of the
    user's): ONNX Runtime would read that file into the model. Every place an ONNX tensor can be."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(path)
    graph, place = model.graph, rng.choice(EXTERNAL_PLACES)
    (path.parent / "secret.txt").write_bytes(b"\x00" * 64)
    values = [1.0] * rng.choice([1, 4, 16])

    def external(name: str) -> TensorProto:
        tensor = helper.make_tensor(name, TensorProto.FLOAT, [len(values)], values)
        tensor.ClearField("float_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "secret.txt"), ("offset", "0"), ("length", str(4 * len(values)))):
            tensor.external_data.add(key=key, value=value)
        return tensor

    def sparse(name: str):
        return helper.make_sparse_tensor(external(name), helper.make_tensor(f"{name}_i", TensorProto.INT64, [len(values)],
                                                                            list(range(len(values)))), [len(values)])

    if place == "initializer":
        rng.choice(graph.initializer).CopyFrom(external(rng.choice(graph.initializer).name))
    elif place == "Constant value":
        graph.node.insert(0, helper.make_node("Constant", [], ["leak"], value=external("leak")))
    elif place == "sparse Constant value":
        graph.node.insert(0, helper.make_node("Constant", [], ["leak"], sparse_value=sparse("leak")))
    elif place == "attribute of another node":
        graph.node.insert(0, helper.make_node("ConstantOfShape", ["shape_in"], ["leak"], value=external("v")))
    elif place == "sparse initializer":
        graph.sparse_initializer.append(sparse("leak"))
    else:
        branch = helper.make_graph([helper.make_node("Constant", [], ["leak"], value=external("leak"))], "branch", [],
                                   [helper.make_tensor_value_info("leak", TensorProto.FLOAT, [len(values)])])
        graph.node.insert(0, helper.make_node("If", ["cond"], ["out"], then_branch=branch, else_branch=branch))
    onnx.save(model, path)
    return place


def refuse_external_data(path: Path) -> object:
    """The property here is stronger than 'loads or refused': a model that names a file of the user's must be
    refused, never loaded."""
    run_in_runtime(path)
    raise AssertionError(f"{path}: a model naming an outside file was loaded")


def read_video(path: Path) -> object:
    """The first frames of a video file, as the demo reads them."""
    import itertools

    from posenet_port.inference.stream import CaptureSource

    return list(itertools.islice(CaptureSource(path).frames(), 3))


def load_photo(path: Path) -> object:
    from posenet_port.inference.preprocess import load_image

    return load_image(path)


@dataclass(frozen=True)
class Limits:
    """What one case may take; exceeding either is a finding like a traceback (issue 30: any photo under 1 MB
    is decoded or refused within 2 s and 400 MB)."""

    seconds: float
    megabytes: int


MODEL_LIMITS = Limits(seconds=20.0, megabytes=1500)  # loading and running a model in its runtime once
PHOTO_LIMITS = Limits(seconds=2.0, megabytes=400)
RUNAWAY = 4  # a case past 4x its limits is stopped: FIFOs it blocks on are opened, memory past it ends the run


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class CaseWatch(threading.Thread):
    """Samples the process's resident memory while a case runs (every 5 ms: a 4 GB allocation takes seconds to
    touch); a case blocked past RUNAWAY times its time limit is let go by opening its FIFOs for writing (the
    reader then sees the end of the file), and one past RUNAWAY times its memory limit ends the whole run before
    it takes the machine down."""

    def __init__(self, folder: Path, limits: Limits, label: str) -> None:
        super().__init__(daemon=True)
        self.folder, self.limits, self.label = folder, limits, label
        self.start_bytes = self.peak_bytes = resident_bytes()
        self.started = time.perf_counter()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak_bytes = max(self.peak_bytes, resident_bytes())
            if self.peak_bytes - self.start_bytes > RUNAWAY * self.limits.megabytes << 20:
                print(f"RUNAWAY: {self.label} took {(self.peak_bytes - self.start_bytes) >> 20} MB; stopping the run",
                      file=sys.stderr, flush=True)
                os._exit(3)
            if time.perf_counter() - self.started > RUNAWAY * self.limits.seconds:
                self.release_fifos()

    def release_fifos(self) -> None:
        for path in self.folder.rglob("*"):
            if path.is_fifo():
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass  # no reader waiting on this one

    def verdict(self) -> str | None:
        """What the case exceeded, or None."""
        self.done.set()
        self.join()
        seconds, grown = time.perf_counter() - self.started, (self.peak_bytes - self.start_bytes) >> 20
        if seconds > self.limits.seconds:
            return f"took {seconds:.1f} s (limit {self.limits.seconds:g} s)"
        if grown > self.limits.megabytes:
            return f"took {grown} MB more memory (limit {self.limits.megabytes} MB)"
        return None


def run_case(reader: Callable[[Path], object], target: Path, named: Path, limits: Limits = MODEL_LIMITS) -> str:
    """'loaded', 'refused' (our own error naming the file), or 'OTHER: ...' (a failure of the property: another
    error, or more time or memory than `limits`)."""
    from posenet_port.errors import PosenetPortError
    from posenet_port.formats.probe import IN_CHILD

    watch = CaseWatch(target if target.is_dir() else target.parent, limits, str(named))
    watch.start()
    # The native readers themselves are fuzzed here, not the child probe in front of them (a child per case would
    # cost seconds, and turn a crash into a clean refusal); a native crash ends the run (fault handler's trace).
    os.environ[IN_CHILD] = "1"
    try:
        reader(target)
        outcome = "loaded"
    except PosenetPortError as error:
        outcome = "refused" if str(named) in str(error) or named.name in str(error) else f"OTHER: unnamed file: {error}"
    except Exception as error:  # noqa: BLE001 - exactly what the fuzzing is looking for
        outcome = f"OTHER: {type(error).__name__}: {error}"[:300]
    finally:
        del os.environ[IN_CHILD]
    exceeded = watch.verdict()
    return f"OTHER: {exceeded}" if exceeded and not outcome.startswith("OTHER") else outcome


def prepare_sources(work: Path) -> dict[str, Path]:
    """The clean models every case starts from: the shipped graph model, a checkpoint, a .pb, a .tflite."""
    import tensorflow as tf

    from posenet_port.model.freeze import write_frozen_graph, write_saved_model
    from posenet_port.model.tf_graph import build_model
    from posenet_port.model.weights import SHIPPED_WEIGHTS, load_weights

    sources = {"graph-model": fresh_copy(SHIPPED_WEIGHTS.directory, work / "graph-model")}
    weights = load_weights()
    checkpoint = work / "checkpoint"
    checkpoint.mkdir(exist_ok=True)
    manifest = {}
    for index, (name, array) in enumerate(weights.variables().items()):
        filename = name.replace("/", "_")
        data = array.astype("<f4").tobytes()
        (checkpoint / filename).write_bytes(gzip.compress(data) if index % 3 == 0 else data)
        manifest[name] = {"filename": filename, "shape": list(array.shape)}
    (checkpoint / "manifest.json").write_text(json.dumps(manifest))
    sources["checkpoint"] = checkpoint
    model = build_model(weights)
    sources["pb"] = write_frozen_graph(model, work / "posenet.pb")
    sources["savedmodel"] = write_saved_model(model, work / "savedmodel")
    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.concrete_function(129, 129)])
    (work / "posenet.tflite").write_bytes(converter.convert())
    sources["tflite"] = work / "posenet.tflite"
    sources["model.json"] = sources["graph-model"] / "posenet.json"
    from posenet_port.formats.onnx.export import export_onnx

    sources["onnx"] = sources["onnx-list-nodes"] = sources["onnx-external-data"] = export_onnx(weights, 16, work / "posenet.onnx", "float32")
    (work / "openvino").mkdir(exist_ok=True)
    import openvino

    openvino.save_model(openvino.convert_model(sources["onnx"]), work / "openvino" / "model.xml")
    sources["openvino"] = work / "openvino"
    import cv2
    import numpy as np

    from posenet_port.pipeline.photos import sample_photos

    portrait = cv2.resize(cv2.imread(str(sample_photos()[0])), (96, 128))
    sources["photo.png"] = work / "photo.png"
    sources["photo.png"].write_bytes(cv2.imencode(".png", portrait)[1].tobytes())
    sources["photo.jpg"] = work / "photo.jpg"
    sources["photo.jpg"].write_bytes(cv2.imencode(".jpg", portrait)[1].tobytes())
    sources["video.avi"] = work / "video.avi"
    writer = cv2.VideoWriter(str(sources["video.avi"]), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 128))
    for shift in range(4):
        writer.write(np.roll(portrait, 8 * shift, axis=1))
    writer.release()
    return sources


READERS: dict[str, tuple[Callable[[Path], object], Damage]] = {
    "graph-model": (load_graph_model, damage_graph_model),
    "checkpoint": (load_checkpoint, damage_checkpoint),
    "pb": (inspect_model, damage_file),
    "savedmodel": (inspect_model, damage_saved_model),
    "tflite": (inspect_model, damage_file),
    "model.json": (inspect_model, damage_file),
    "onnx": (run_in_runtime, damage_file),
    "onnx-list-nodes": (inspect_model, damage_file),
    "onnx-external-data": (refuse_external_data, external_data),
    "openvino": (load_ir, damage_ir),
    "video.avi": (read_video, damage_file),
    "photo.png": (load_photo, damage_photo),
    "photo.jpg": (load_photo, damage_photo),
}


SPECIAL_FILE_SHARE = 0.08  # of every reader's cases: one of its files is not a regular file at all


def fuzz_one(kind: str, sources: dict[str, Path], work: Path, seed: int) -> tuple[str, str]:
    """Copy the clean source, damage it with `seed`, read it: (outcome, what was damaged)."""
    reader, damage = READERS[kind]
    rng = random.Random(seed)
    source = sources[kind]
    case = work / f"case-{kind}"
    if case.exists() or case.is_symlink():
        shutil.rmtree(case)
    case.mkdir()
    if source.is_dir():
        target = shutil.copytree(source, case / "model")
        if kind == "graph-model":
            (target / "posenet.json").rename(target / "model.json")
    else:
        target = Path(shutil.copyfile(source, case / source.name))
    special = rng.random() < SPECIAL_FILE_SHARE and kind != "onnx-external-data"
    what = special_file(target, rng) if special else damage(target, rng)
    limits = PHOTO_LIMITS if kind.startswith(("photo", "video")) else MODEL_LIMITS
    return run_case(reader, target, target, limits), what


def long_run(cases: int, first_seed: int = 0) -> dict:
    """`cases` damaged files per reader, seeds first_seed .. first_seed + cases - 1 (fresh ones in `make fuzz`,
    printed so any case can be replayed with fuzz_one)."""
    import collections
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sources = prepare_sources(work)
        figures, failures = {}, []
        for kind in READERS:
            start, counts = time.perf_counter(), collections.Counter()
            for seed in range(first_seed, first_seed + cases):
                if (seed - first_seed) % 1000 == 0:
                    print(f"{kind}: seed {seed}", flush=True)  # a crash of a native reader ends the run: from here
                outcome, what = fuzz_one(kind, sources, work, seed)
                counts["other" if outcome.startswith("OTHER") else outcome] += 1
                if outcome.startswith("OTHER"):
                    failures.append(f"{kind} seed {seed} ({what}): {outcome}")
            figures[kind] = {**counts, "seconds": round(time.perf_counter() - start, 1)}
            print(kind, figures[kind], flush=True)
    return {"cases": cases, "first_seed": first_seed, "figures": figures, "failures": failures}


def markdown(result: dict) -> list[str]:
    cases, first, figures, failures = result["cases"], result["first_seed"], result["figures"], result["failures"]
    total = sum(f.get("loaded", 0) + f.get("refused", 0) + f.get("other", 0) for f in figures.values())
    lines = [
        "## Random-mutation fuzzing",
        "",
        f"`tests/helpers/fuzzing.py`: {cases:,} damaged files per reader, {total:,} in all, seeds {first:,} to "
        f"{first + cases - 1:,} (drawn fresh for this run; `fuzz_one(kind, sources, work, seed)` replays any). Each "
        f"case is limited to {MODEL_LIMITS.seconds:g} s and {MODEL_LIMITS.megabytes} MB more memory "
        f"({PHOTO_LIMITS.seconds:g} s and {PHOTO_LIMITS.megabytes} MB for photos and videos).",
        "",
        "The damage: model.json keys, types, shapes, dtypes and quantization entries (NaN, Inf, absurd scales) and "
        "values nested up to 5,000 levels deep; shards truncated, extended, shuffled, bit-flipped or NaN-laced, or "
        "named in bytes that are not UTF-8; corrupt gzip streams; mutated `.pb`, SavedModel, `.tflite`, `model.json`, "
        "`.onnx` and OpenVINO `.xml` / `.bin` bytes, listed and opened and run in their runtimes; ONNX models with a "
        f"tensor whose data is said to be in a file of the user's, in every place a tensor can be ({', '.join(EXTERNAL_PLACES)}: "
        "these must be refused, never loaded); photos and MJPG videos with damaged bytes, PNG headers claiming up "
        f"to 2^31 - 1 pixels a side; and, in {SPECIAL_FILE_SHARE:.0%} of every reader's cases, one of its files "
        f"replaced by what is not a regular file ({', '.join(SPECIAL_FILES)}).",
        "",
        "| reader | loaded | refused (own error) | other | seconds |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {kind} | {f.get('loaded', 0)} | {f.get('refused', 0)} | {f.get('other', 0)} | {f['seconds']} |"
              for kind, f in figures.items()]
    lines += ["", f"Cases ending other than in a clean load or our own error within the limits: **{len(failures)}**."]
    return lines + [f"- {failure}" for failure in failures[:50]]


if __name__ == "__main__":
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    parser = argparse.ArgumentParser(description="The random-mutation fuzzer alone (make fuzz runs every fuzzer).")
    parser.add_argument("--cases", type=int, default=2000, help="damaged files per reader (default: 2000)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first case (default: 0)")
    parser.add_argument("--json", type=Path, help="also write the figures here (make fuzz reads them)")
    arguments = parser.parse_args()
    result = long_run(arguments.cases, arguments.first_seed)
    if arguments.json:
        arguments.json.write_text(json.dumps(result))
    print("\n".join(markdown(result)))
    sys.exit(1 if result["failures"] else 0)
