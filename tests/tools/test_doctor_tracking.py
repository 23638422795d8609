"""`mimicam doctor` says which path follows the driver's face."""
from mimicam.realtime import face_tracker
from mimicam.tools import doctor


def _tracking():
    return next(c for c in doctor.runtime_checks() if c.name == "face tracking")


def test_doctor_names_litert_or_mediapipe(monkeypatch):
    if face_tracker.available():
        assert _tracking().detail.startswith("LiteRT ")
    monkeypatch.setattr(face_tracker, "available", lambda: False)
    check = _tracking()
    assert check.ok and "MediaPipe's VIDEO mode" in check.detail
