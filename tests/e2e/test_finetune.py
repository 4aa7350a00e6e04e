"""Fine-tuning under simulated int8 (training/finetune.py): a short run brings the int8 simulation closer to the
float graph on photos it never saw, and the weights it writes come back as the same model."""
from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf

from posenet_port.errors import WeightsError
from posenet_port.inference.preprocess import preprocess
from posenet_port.model.int8_simulation import SimulatedInt8
from posenet_port.pipeline.photos import tuning_photos, validation_photos
from posenet_port.training.finetune import FinetuneConfig, Trainer
from posenet_port.training.views import random_batch

SIZE = 257
pytestmark = pytest.mark.both_cores  # training keeps TensorFlow's threads on both cores


@pytest.fixture(scope="module")
def trained(shipped_weights):
    """A trainer calibrated on views of the tuning photos, its distance on the validation photos (held aside: never
    trained on) before and after 60 steps."""
    config = FinetuneConfig(steps=60, learning_rate=1e-5, input_size=SIZE, train="all")
    rng = np.random.default_rng(0)
    tf.random.set_seed(0)
    pictures = [rgb for _, rgb in tuning_photos()]
    trainer = Trainer(shipped_weights, config)
    trainer.student.calibrate(random_batch(pictures, 4, SIZE, rng) for _ in range(8))
    held_aside = np.concatenate([preprocess(rgb, SIZE)[0] for _, rgb in validation_photos()])
    before = trainer.distance_on(held_aside)
    for _ in range(config.steps):
        trainer.step(tf.constant(random_batch(pictures, config.batch, SIZE, rng)))
    return trainer, before, trainer.distance_on(held_aside)


@pytest.fixture(scope="module")
def calibrated(shipped_weights):
    model = SimulatedInt8(shipped_weights)
    model.calibrate([preprocess(tuning_photos()[0][1], SIZE)[0]])
    return model


@pytest.mark.slow
def test_a_short_training_lowers_the_distance_on_held_aside_photos(trained):
    _, before, after = trained
    print(f"distance to the float graph on the 9 validation photos: {before:.4f} calibrated, {after:.4f} after 60 steps")
    assert after < before


def test_saved_weights_load_as_the_same_model(calibrated, tmp_path):
    student = calibrated
    path = student.save(tmp_path / "finetuned.npz")
    loaded = SimulatedInt8.load(path)
    batch = tf.constant(preprocess(validation_photos()[0][1], SIZE)[0])
    ours, theirs = student.heads(batch), loaded.heads(batch)
    for name in ours:
        np.testing.assert_array_equal(ours[name].numpy(), theirs[name].numpy(), err_msg=name)
    assert loaded.ranges() == student.ranges()


def test_damaged_weights_are_refused_with_what_to_do(calibrated, tmp_path):
    data = calibrated.to_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="python -m posenet_port.finetune"):
        SimulatedInt8.load(tmp_path / "cut.npz")
    arrays = dict(np.load(io.BytesIO(data)))
    arrays["low"] = arrays["low"][:3]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(WeightsError, match="one per layer"):
        SimulatedInt8.load(tmp_path / "short.npz")


def test_a_compressed_member_is_refused_before_numpy_reads_it(calibrated, tmp_path):
    """A zip member that states gigabytes in a few compressed bytes must never reach numpy's reader."""
    arrays = dict(np.load(io.BytesIO(calibrated.to_bytes())))
    arrays["kernel_00"] = np.zeros((1 << 13, 1 << 13), np.float32)  # 256 MiB of zeros in about 256 KB
    np.savez_compressed(tmp_path / "bomb.npz", **arrays)
    print(f"bomb.npz: {(tmp_path / 'bomb.npz').stat().st_size >> 10} KB on disk")
    with pytest.raises(WeightsError, match="compressed or larger than the file"):
        SimulatedInt8.load(tmp_path / "bomb.npz")


@pytest.mark.parametrize("target", ["posenet.bin", "posenet.json", "finetuned.json"])
def test_the_command_refuses_an_output_that_would_replace_an_input_or_its_own_provenance(tmp_path, capsys, target):
    """Refused before any training: --out on a weight file, or a name whose provenance (.json) is itself."""
    from posenet_port.cli.common import run_cli
    from posenet_port.cli.finetune import main
    from posenet_port.model.weights import SHIPPED_WEIGHTS

    for name in ("posenet.json", "posenet.bin"):
        (tmp_path / name).write_bytes((SHIPPED_WEIGHTS.directory / name).read_bytes())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    status = run_cli(main, ["--weights", str(tmp_path / "posenet.json"), "--out", str(tmp_path / target)])
    assert status == 2 and "it would be overwritten" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_video_frames_join_the_tuning_photos_as_asked():
    from posenet_port.training.views import training_pictures

    photos = len(tuning_photos())
    assert len(training_pictures(0)) == photos  # the photos alone
    assert len(training_pictures(400)) == photos + 2  # frames 0 and 400 of vtest.avi's 795


def test_agreement_judges_the_candidate_it_is_given(shipped_weights):
    """The float graph as the candidate agrees with itself to the keypoint; the uncalibrated student (every
    range still ReLU6's [0, 6], which clips the heads) does not."""
    trainer = Trainer(shipped_weights, FinetuneConfig(input_size=SIZE))
    photos = validation_photos()[:2]
    itself = trainer.agreement(photos, lambda rgb: trainer.teacher.heads(tf.constant(preprocess(rgb, SIZE)[0]),
                                                                         quantize=False))
    student = trainer.agreement(photos)
    print(f"float graph: {itself.summary()}; uncalibrated int8 student: {student.summary()}")
    assert itself.within_share == 1.0 and itself.ap == pytest.approx(1.0)
    assert student.within_share < 0.9
