"""Provenance: an invisible mark on every generated frame (attributed: bound to this install's key and to
the content; anonymous: public only), its verifier, and the parallel detector that drives the badge
text. ``mimicam verify`` is built on ``check``; ``mimicam key`` on ``keys``."""
from .detector import DetectorThread, Verdict
from .keys import load_keys, load_or_create_key, rotate_key
from .verifier import MarkResult, MarkVerifier
from .watermark import Watermarker

__all__ = ["DetectorThread", "MarkResult", "MarkVerifier", "Verdict", "Watermarker", "load_keys",
           "load_or_create_key", "rotate_key"]
