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
import zlib
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
    weights = [w for group in document.get("weightsManifest", []) if isinstance(group, dict)
               for w in group.get("weights", []) if isinstance(w, dict)] if isinstance(document, dict) else []
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


def special_shard(directory: Path, rng: random.Random) -> str:
    """The shard replaced by what is not a regular file, or renamed to a name that is not UTF-8."""
    shard = next(directory.glob("*.bin"), None)
    if shard is None:
        return "no shard"
    kind = rng.choice(["fifo", "folder", "dangling link", "latin-1 name"])
    if kind == "latin-1 name":  # a valid model under a name only bytes can spell
        renamed = shard.with_name(os.fsdecode(b"poids-\xe9t\xe9.bin"))
        shard.rename(renamed)
        document = json.loads((directory / "model.json").read_text())
        document["weightsManifest"][0]["paths"] = [renamed.name]
        (directory / "model.json").write_text(json.dumps(document))
        return kind
    shard.unlink()
    if kind == "fifo":
        os.mkfifo(shard)
    elif kind == "folder":
        shard.mkdir()
    else:
        shard.symlink_to(directory / "nowhere.bin")
    return kind


def damage_graph_model(directory: Path, rng: random.Random) -> str:
    """One to three mutations of model.json and/or its shard, or a shard that is not a regular file."""
    if rng.random() < 0.1:
        return special_shard(directory, rng)
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


def load_ir(directory: Path) -> object:
    return run_in_runtime(directory / "model.xml")


def load_photo(path: Path) -> object:
    from posenet_port.inference.preprocess import load_image

    return load_image(path)


def run_case(reader: Callable[[Path], object], target: Path, named: Path) -> str:
    """'loaded', 'refused' (our own error naming the file), or 'OTHER: ...' (a failure of the property)."""
    from posenet_port.errors import PosenetPortError

    try:
        reader(target)
        return "loaded"
    except PosenetPortError as error:
        return "refused" if str(named) in str(error) or named.name in str(error) else f"OTHER: unnamed file: {error}"
    except Exception as error:  # noqa: BLE001 - exactly what the fuzzing is looking for
        return f"OTHER: {type(error).__name__}: {error}"[:300]


def prepare_sources(work: Path) -> dict[str, Path]:
    """The clean models every case starts from: the shipped graph model, a checkpoint, a .pb, a .tflite."""
    import tensorflow as tf

    from posenet_port.model.freeze import write_frozen_graph
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
    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.concrete_function(129, 129)])
    (work / "posenet.tflite").write_bytes(converter.convert())
    sources["tflite"] = work / "posenet.tflite"
    sources["model.json"] = sources["graph-model"] / "posenet.json"
    from posenet_port.formats.onnx.export import export_onnx

    sources["onnx"] = sources["onnx-list-nodes"] = export_onnx(weights, 16, work / "posenet.onnx", "float32")
    (work / "openvino").mkdir(exist_ok=True)
    import openvino

    openvino.save_model(openvino.convert_model(sources["onnx"]), work / "openvino" / "model.xml")
    sources["openvino"] = work / "openvino"
    import cv2

    from posenet_port.pipeline.photos import sample_photos

    portrait = cv2.resize(cv2.imread(str(sample_photos()[0])), (96, 128))
    sources["photo.png"] = work / "photo.png"
    sources["photo.png"].write_bytes(cv2.imencode(".png", portrait)[1].tobytes())
    sources["photo.jpg"] = work / "photo.jpg"
    sources["photo.jpg"].write_bytes(cv2.imencode(".jpg", portrait)[1].tobytes())
    return sources


READERS: dict[str, tuple[Callable[[Path], object], Damage]] = {
    "graph-model": (load_graph_model, damage_graph_model),
    "checkpoint": (load_checkpoint, damage_checkpoint),
    "pb": (inspect_model, damage_file),
    "tflite": (inspect_model, damage_file),
    "model.json": (inspect_model, damage_file),
    "onnx": (run_in_runtime, damage_file),
    "onnx-list-nodes": (inspect_model, damage_file),
    "openvino": (load_ir, damage_ir),
    "photo.png": (load_photo, damage_photo),
    "photo.jpg": (load_photo, damage_photo),
}


def fuzz_one(kind: str, sources: dict[str, Path], work: Path, seed: int) -> tuple[str, str]:
    """Copy the clean source, damage it with `seed`, read it: (outcome, what was damaged)."""
    reader, damage = READERS[kind]
    rng = random.Random(seed)
    source = sources[kind]
    if source.is_dir():
        target = fresh_copy(source, work / f"case-{kind}")
        if kind == "graph-model":
            (target / "posenet.json").rename(target / "model.json")
        what = damage(target, rng)
        return run_case(reader, target, target), what
    target = work / f"case-{source.name}"
    shutil.copyfile(source, target)
    what = damage(target, rng)
    return run_case(reader, target, target), what


def long_run(cases: int, out: Path) -> dict:
    """`cases` damaged models per reader; writes the figures to `out` (Markdown) and returns them."""
    import collections
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        sources = prepare_sources(work)
        figures, failures = {}, []
        for kind in READERS:
            start, counts = time.perf_counter(), collections.Counter()
            for seed in range(cases):
                outcome, what = fuzz_one(kind, sources, work, seed)
                counts["other" if outcome.startswith("OTHER") else outcome] += 1
                if outcome.startswith("OTHER"):
                    failures.append(f"{kind} seed {seed} ({what}): {outcome}")
            figures[kind] = {**counts, "seconds": round(time.perf_counter() - start, 1)}
            print(kind, figures[kind], flush=True)
    total = sum(f.get("loaded", 0) + f.get("refused", 0) + f.get("other", 0) for f in figures.values())
    lines = [
        "# Fuzzing the readers of outside files",
        "",
        f"Written by `python tests/helpers/fuzzing.py --cases {cases}`: {cases} damaged models per reader, {total} in all "
        f"(seeds 0..{cases - 1}, reproducible). Property: each case loads, or is refused with the project's own error "
        "naming the file; anything else counts as *other*.",
        "",
        "The damage: model.json keys, types, shapes, dtypes and quantization entries (NaN, Inf, absurd scales) and "
        "values nested up to 5,000 levels deep; shards truncated, extended, shuffled, bit-flipped or NaN-laced, or "
        "replaced by a FIFO, a folder or a dangling link, or renamed to a name that is not UTF-8; corrupt gzip "
        "streams; mutated `.pb`, `.tflite`, `model.json` and `.onnx` bytes for `list_nodes`; mutated `.onnx` files "
        "opened and run in ONNX Runtime, OpenVINO IRs with damaged `.xml` or `.bin` bytes opened and run on its CPU "
        "plugin; photos with damaged bytes or PNG "
        "headers claiming up to 2^31 - 1 pixels a side.",
        "",
        "| reader | loaded | refused (own error) | other | seconds |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {kind} | {f.get('loaded', 0)} | {f.get('refused', 0)} | {f.get('other', 0)} | {f['seconds']} |"
              for kind, f in figures.items()]
    lines += ["", f"Cases ending other than in a clean load or our own error: **{len(failures)}**."]
    lines += [f"- {failure}" for failure in failures[:50]]
    out.write_text("\n".join(lines) + "\n")
    return {"figures": figures, "failures": failures}


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    parser = argparse.ArgumentParser(description="The long fuzz run over every reader of outside files.")
    parser.add_argument("--cases", type=int, default=2000, help="damaged models per reader (default: 2000)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "FUZZING.md")
    arguments = parser.parse_args()
    result = long_run(arguments.cases, arguments.out)
    print(f"wrote {arguments.out}; {len(result['failures'])} cases ended other than cleanly")
    sys.exit(1 if result["failures"] else 0)
