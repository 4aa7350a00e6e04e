"""The child probe in front of the native readers (formats/probe.py): a reader's death in the child is one refusal,
and a pass is remembered by content across processes, never a crash, never for files it cannot hash."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import REPO

from posenet_port.errors import ModelFileError
from posenet_port.formats.probe import CACHE_ENV, IN_CHILD, pass_record, probe
from posenet_port.formats.registry import FORMATS

TINY = REPO / "tests" / "fuzz" / "corpus" / "list-nodes-tflite" / "tiny.tflite"  # image -> RELU6 -> Identity
TFLITE = FORMATS["tflite"]
CRASHED = r"TFLite crashed reading this model \(SIGSEGV\).*refused"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def kill_probe_children(tmp_path, monkeypatch) -> None:
    """From now on the probe's child really dies of SIGSEGV as it starts: a sitecustomize on its PYTHONPATH kills
    it (only the child: it alone has IN_CHILD set). A probe that runs then shows as a refusal."""
    (tmp_path / "sitecustomize.py").write_text(
        f"import os, signal\nif os.environ.get({IN_CHILD!r}):\n    os.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def copy_of(data: bytes, path: Path) -> Path:
    path.write_bytes(data)
    return path


def test_a_reader_that_dies_in_the_probe_child_is_one_refusal_and_is_never_remembered(tmp_path, monkeypatch, cache):
    """The .tflite check stops every crash file found so far before LiteRT; the child probe behind it must still
    turn a reader's death into one refusal."""
    kill_probe_children(tmp_path, monkeypatch)
    model = copy_of(TINY.read_bytes(), tmp_path / "tiny.tflite")
    with pytest.raises(ModelFileError, match=CRASHED):
        probe(model, TFLITE)
    assert not (cache / "probed").exists()


def test_a_pass_is_remembered_by_content_until_one_byte_changes(tmp_path, monkeypatch, cache):
    model = copy_of(TINY.read_bytes(), tmp_path / "tiny.tflite")
    probe(model, TFLITE)  # a real child reads it
    assert [record.name for record in (cache / "probed").iterdir()] == [pass_record(model, TFLITE).name]
    kill_probe_children(tmp_path, monkeypatch)
    # Another path, so this process's own verdicts do not answer: the remembered pass does, without a child.
    probe(copy_of(TINY.read_bytes(), tmp_path / "copy.tflite"), TFLITE)
    changed = bytearray(TINY.read_bytes())
    changed[-1] ^= 1
    with pytest.raises(ModelFileError, match=CRASHED):
        probe(copy_of(bytes(changed), tmp_path / "changed.tflite"), TFLITE)


def test_a_companion_file_is_part_of_what_was_probed(tmp_path, cache):
    """OpenVINO's runtime reads the .bin beside the .xml: a new .bin is a new model to probe."""
    xml, weights = tmp_path / "model.xml", tmp_path / "model.bin"
    xml.write_text("<net/>")
    weights.write_bytes(b"\0" * 64)
    before = pass_record(xml, FORMATS["openvino"])
    weights.write_bytes(b"\1" + b"\0" * 63)
    assert before is not None and pass_record(xml, FORMATS["openvino"]) != before


def test_files_that_are_not_regular_are_never_hashed_or_remembered(tmp_path, cache):
    """A FIFO (which would block a reader), a folder holding one, or a folder with a linked folder inside: no
    record, at once; the child meets them every time."""
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    assert pass_record(fifo, TFLITE) is None
    saved_model = tmp_path / "saved"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"x")
    os.mkfifo(saved_model / "variables.data")
    assert pass_record(saved_model, FORMATS["savedmodel"]) is None
    (saved_model / "variables.data").unlink()
    assert pass_record(saved_model, FORMATS["savedmodel"]) is not None
    (saved_model / "variables").symlink_to(tmp_path, target_is_directory=True)  # not walked: its files unseen
    assert pass_record(saved_model, FORMATS["savedmodel"]) is None
