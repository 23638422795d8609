import json
import time

import numpy as np
import pytest
import torch

from mimicam.realtime.badge import Badge
from mimicam.realtime.errors import ModelError
from mimicam.realtime.provenance import classifier as C
from mimicam.realtime.provenance.detector import BADGE, DetectorThread
from mimicam.tools.train_classifier import MesoTiny, to_tensor
from provenance_data import KEY, clip30  # noqa: F401 (fixture)

torch.set_num_threads(1)
shipped = pytest.mark.skipif(not C.WEIGHTS_PATH.is_file(), reason="no classifier weights shipped")


def _trained_like(seed: int = 0) -> MesoTiny:
    """Random weights and batch-norm statistics far from the identity, so the folding is exercised."""
    torch.manual_seed(seed)
    model = MesoTiny()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.2, 3.0)
                m.weight.uniform_(0.5, 2.0)
                m.bias.uniform_(-0.3, 0.3)
    return model.eval()


def _numpy_twin(model: MesoTiny) -> C.Classifier:
    return C.Classifier({k: v.numpy() for k, v in model.state_dict().items()})


def test_model_is_mesonet_sized_and_scores_in_unit_interval():
    model = _trained_like()
    assert 20_000 <= sum(p.numel() for p in model.parameters()) <= 40_000
    crops = np.random.default_rng(0).integers(0, 256, (4, C.INPUT, C.INPUT, 3), dtype=np.uint8)
    scores = _numpy_twin(model).score_crops(crops)
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 1))


def test_numpy_inference_matches_the_torch_model(clip30):
    """The live process scores in numpy (no torch import); the trained torch model is the reference."""
    model = _trained_like(3)
    crops = np.stack([C.face_crop(f, *C.fallback_box(f)) for f in clip30[:6]])
    with torch.no_grad():
        ref = torch.sigmoid(model(to_tensor(crops))).numpy()
    assert np.abs(_numpy_twin(model).score_crops(crops) - ref).max() < 1e-5
    assert set(C.expected_shapes()) == set(model.state_dict())


@pytest.mark.parametrize("size", [(512, 512), (720, 1280), (240, 320)])
def test_crop_never_sees_the_badge(size):
    h, w = size
    frame = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    badged = Badge().draw(frame.copy(), "SYNTHETIC - verified")
    other = Badge().draw(frame.copy(), "SYNTHETIC")
    assert not np.array_equal(badged, frame)
    for center, side in [((w / 2, h / 2), float(max(h, w))), ((w * 0.3, h * 0.8), h * 0.5), C.fallback_box(frame)]:
        a = C.face_crop(frame, center, side)
        assert np.array_equal(a, C.face_crop(badged, center, side))
        assert np.array_equal(a, C.face_crop(other, center, side))


def test_loading_checks_sha256_and_reads_only_safetensors(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "c.safetensors"
    save_file(MesoTiny().state_dict(), str(path))
    import hashlib

    good = hashlib.sha256(path.read_bytes()).hexdigest()
    assert isinstance(C.Classifier.load(path, good, None), C.Classifier)
    with pytest.raises(ModelError, match="SHA-256"):
        C.Classifier.load(path, "0" * 64, None)
    path.write_bytes(b"\x80\x04not a safetensors file")      # e.g. a pickle put in its place
    with pytest.raises(ModelError):
        C.Classifier.load(path, hashlib.sha256(path.read_bytes()).hexdigest(), None)
    with pytest.raises(FileNotFoundError):
        C.Classifier.load(tmp_path / "absent.safetensors", good, None)


@shipped
def test_shipped_weights_verify_and_carry_a_model_card():
    card = json.loads(C.CARD_PATH.read_text())
    assert card["sha256"] == C.WEIGHTS_SHA256
    assert "non-commercial" in card["terms"]
    assert card["metrics_held_out"]["clean"]["auc"] > 0.9
    assert set(card["held_out"]["portraits"]).isdisjoint(card["training"].get("portraits", []))
    clf = C.load_default()
    assert clf is not None and clf.card["sha256"] == C.WEIGHTS_SHA256


@shipped
def test_score_is_cheap_and_bounded(clip30):
    clf = C.load_default()
    box = clf.locate(clip30[0])
    clf.score(clip30[0], box)
    t = time.perf_counter()
    scores = [clf.score(f, box) for f in clip30[:20]]
    ms = (time.perf_counter() - t) / 20 * 1e3
    clf.close()
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert ms < 20.0


class _Always:
    """A classifier that is sure every frame is generated."""

    def locate(self, image):
        return C.fallback_box(image)

    def score(self, image, box=None):
        return 1.0

    def close(self):
        pass


def test_score_is_advisory_badge_follows_the_mark_only(clip30):
    with DetectorThread(KEY, window=10, classifier=False) as det:
        det.classifier = _Always()
        t0 = time.perf_counter()
        for f in clip30[:10]:
            det.submit(f)
            time.sleep(0.02)
        while det.verdict.verdicts == 0 and time.perf_counter() - t0 < 10:
            time.sleep(0.02)
        verdict = det.verdict
        assert verdict.classifier_score == 1.0
        assert not verdict.marked and det.badge_text() == BADGE


@shipped
def test_detector_reports_the_shipped_score(clip30):
    with DetectorThread(KEY, window=10) as det:
        assert det.classifier is not None
        t0 = time.perf_counter()
        for f in clip30[:10]:
            det.submit(f)
            time.sleep(0.03)
        while det.verdict.verdicts < 3 and time.perf_counter() - t0 < 10:
            time.sleep(0.02)
        score = det.verdict.classifier_score
        assert det.error is None and score is not None and 0.0 <= score <= 1.0
        assert det.badge_text() == BADGE
