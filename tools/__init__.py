"""mimicam."""
