"""Provenance: a keyed invisible watermark on every generated frame, its verifier, and the
parallel detector that drives the badge text. ``mimicam verify`` is built on ``check``."""
from .detector import DetectorThread, Verdict
from .keys import load_or_create_key
from .verifier import MarkResult, MarkVerifier
from .watermark import Watermarker

__all__ = ["DetectorThread", "MarkResult", "MarkVerifier", "Verdict", "Watermarker", "load_or_create_key"]
