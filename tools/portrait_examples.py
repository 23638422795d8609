"""The README's portrait examples, made from the bundled portrait only, each captioned with what
``mimicam check`` says about it: ``python -m mimicam.tools.portrait_examples --out docs/portrait``
writes good.png (the bundled portrait) and bad.png (the same picture tilted, blurred and cut at the chin)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

WIDTH = 360


def make_bad(image: np.ndarray) -> np.ndarray:
    """Tilted 20 degrees, blurred, and cut just below the chin (the picture stays 512 px wide)."""
    h, w = image.shape[:2]
    rot = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h * 0.3), 20, 1.0), (w, h),
                         borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(rot, (0, 0), 2.5)[: int(h * 0.42)]


def captioned(image: np.ndarray, title: str, lines: list[str]) -> np.ndarray:
    pic = cv2.resize(image, (WIDTH, round(image.shape[0] * WIDTH / image.shape[1])), interpolation=cv2.INTER_AREA)
    rows = [title, *lines]
    text = np.full((20 + 22 * len(rows), WIDTH, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        cv2.putText(text, row, (8, 24 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5 if i else 0.6, (20, 20, 20),
                    1 if i else 2, cv2.LINE_AA)
    return np.vstack([pic, text])


def main(argv: list[str] | None = None) -> int:
    from ..realtime.assets import demo_portrait_path
    from ..realtime.imageio import load_image
    from ..realtime.portrait_check import check_image

    p = argparse.ArgumentParser(prog="python -m mimicam.tools.portrait_examples", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for good.png and bad.png")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    image = load_image(demo_portrait_path())
    for name, pic, title in (("good", image, "Good: frontal, sharp, even light, room around the head"),
                             ("bad", make_bad(image), "Bad: tilted, blurred, cut at the chin")):
        result = check_image(pic, name)
        lines = [f"mimicam check: {len(result.warnings)} warning(s)"]
        lines += [f"- {w.message}" for w in result.warnings]
        cv2.imwrite(str(args.out / f"{name}.png"), captioned(pic, title, lines))
        print(f"{name}: " + "; ".join(w.code for w in result.warnings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
