"""Train the advisory provenance classifier: `python -m mimicam.tools.train_classifier [--data DIR]`.

1. Data (cached under --data, resumable): generated frames from our own pipeline (portrait x driving clip,
   first --frames frames) and real frames (evenly spaced) from the same clips of ../shared/data, as face
   crops with the badge band painted grey. Held out by clip (every 4th clip) AND by portrait (TEST_PORTRAITS).
2. Training with the transport path as augmentation (I420, resize 0.5-1, JPEG 4:2:0 q30-95), both classes.
3. Held-out AUC: clean, after I420 + JPEG q50 4:2:0, and after downscale 0.5 + I420 + JPEG q50; written to
   the model card (classifier.json) beside the weights (classifier.safetensors). No frame is ever shipped.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..realtime.media import video_frames
from ..realtime.provenance.classifier import CARD_PATH, CONTEXT, INPUT, WEIGHTS_PATH, FaceLocator, face_crop

DATA = Path("/work/shared/data")
TEST_PORTRAITS = ("skimage_astronaut_eileen_collins.png", "art_lp_s5_painted_girl.jpg",
                  "celeba_000060_black_man_headwrap.jpg")
STORE, STORE_CONTEXT = 160, 1.6   # training crops are stored wider, augmented, then cut to CONTEXT
TEST_VARIANTS = ("clean", "q50", "half_q50")

class MesoTiny(nn.Module):
    """Four conv blocks (MesoNet-4's shape, narrower) -> global average -> two small dense layers. Its state
    dict is what ships; ``realtime.provenance.classifier.MesoNumpy`` runs it without torch."""

    def __init__(self) -> None:
        super().__init__()

        def block(cin: int, cout: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                    nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(3, 8, 3), *block(8, 16, 5), *block(16, 32, 5), *block(32, 32, 3))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(32, 16), nn.LeakyReLU(0.1),
                                  nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, INPUT, INPUT) float in [0, 1], BGR -> logits (B,)."""
        f = self.features(x - 0.5)
        return self.head(f.mean(dim=(2, 3))).squeeze(1)


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(B, S, S, 3) or (S, S, 3) uint8 BGR -> (B, 3, S, S) float32 in [0, 1]."""
    if crops.ndim == 3:
        crops = crops[None]
    return torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2))).float().div_(255.0)



def clips(root: Path) -> list[Path]:
    return sorted(p for d in ("driving", "train") for p in (root / d).iterdir() if p.suffix in (".mp4", ".mov"))


def split(root: Path) -> dict[str, list[tuple[Path, Path]]]:
    """(clip, portrait) pairs: every 4th clip is held out and paired only with held-out portraits."""
    portraits = sorted((root / "portraits").iterdir())
    train_p = [p for p in portraits if p.name not in TEST_PORTRAITS]
    test_p = [p for p in portraits if p.name in TEST_PORTRAITS]
    out: dict[str, list[tuple[Path, Path]]] = {"train": [], "test": []}
    for i, clip in enumerate(clips(root)):
        part, pool = ("test", test_p) if i % 4 == 3 else ("train", train_p)
        out[part].append((clip, pool[len(out[part]) % len(pool)]))
    return out


def jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(q),
                                         cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def i420(img: np.ndarray) -> np.ndarray:
    img = img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)


def crops_of(frames: list[np.ndarray], locator: FaceLocator, test: bool) -> dict[str, np.ndarray]:
    """Face crops of frames where a face is found: wide STORE crops (train) or INPUT crops per variant (test)."""
    out: dict[str, list[np.ndarray]] = {}
    for f in frames:
        found = locator.locate(f, context=1.0)
        if found is None:
            continue
        (cx, cy), side = found
        if not test:
            out.setdefault("train", []).append(face_crop(f, (cx, cy), STORE_CONTEXT * side, STORE))
            continue
        half = cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA)
        for name, img, s in (("clean", f, 1.0), ("q50", jpeg(i420(f), 50), 1.0), ("half_q50", jpeg(i420(half), 50), 0.5)):
            out.setdefault(name, []).append(face_crop(img, (cx * s, cy * s), CONTEXT * side * s, INPUT))
    return {k: np.stack(v) for k, v in out.items()}


def generated_frames(portrait: Path, clip: Path, n: int) -> list[np.ndarray]:
    from ..realtime.pipeline import Pipeline, PipelineOptions

    frames: list[np.ndarray] = []
    keep = lambda o: frames.append(o.image.copy()) if o.kind == "generated" else None  # noqa: E731
    opts = PipelineOptions(portrait=portrait, driving=clip, output="null", realtime=False, max_frames=n,
                           detector=False)
    with Pipeline(opts, on_output=keep) as pipe:
        pipe.run()
    return frames


def real_frames(clip: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(clip))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or n
    cap.release()
    return list(video_frames(clip, keep=set(np.linspace(0, total - 1, n).astype(int).tolist())))


def make_data(root: Path, data: Path, n: int) -> None:
    data.mkdir(parents=True, exist_ok=True)
    locator = FaceLocator()
    for part, pairs in split(root).items():
        for clip, portrait in pairs:
            out = data / f"{part}__{clip.stem}.npz"
            if out.exists():
                continue
            t = time.perf_counter()
            gen = crops_of(generated_frames(portrait, clip, n), locator, part == "test")
            real = crops_of(real_frames(clip, n), locator, part == "test")
            np.savez(out, **{f"gen_{k}": v for k, v in gen.items()}, **{f"real_{k}": v for k, v in real.items()},
                     portrait=portrait.name)
            print(f"{out.name}: {portrait.name} gen {len(next(iter(gen.values()), []))} "
                  f"real {len(next(iter(real.values()), []))} ({time.perf_counter() - t:.1f} s)", flush=True)
    locator.close()


def load(data: Path, part: str, variant: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    xs, ys, names = [], [], []
    for f in sorted(data.glob(f"{part}__*.npz")):
        z = np.load(f)
        for label, cls in ((1, "gen"), (0, "real")):
            if f"{cls}_{variant}" in z:
                xs.append(z[f"{cls}_{variant}"])
                ys.append(np.full(len(xs[-1]), label, np.float32))
        names.append(f"{f.stem.split('__', 1)[1]} ({z['portrait']})")
    return np.concatenate(xs), np.concatenate(ys), names


def augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Transport path on a stored STORE crop, then the INPUT crop with a little box jitter."""
    img = i420(patch) if rng.random() < 0.8 else patch
    if rng.random() < 0.3:  # low-resolution sources (small webcam crops, upscaled): both classes
        f = rng.uniform(0.3, 0.6)
        img = cv2.resize(cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA), (STORE, STORE),
                         interpolation=cv2.INTER_LINEAR)
    s = rng.uniform(0.5, 1.0)
    size = int(round(STORE * s))
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if rng.random() < 0.85:
        img = jpeg(img, rng.integers(30, 96))
    side = size * CONTEXT / STORE_CONTEXT * rng.uniform(0.9, 1.1)
    c = size / 2 + rng.uniform(-0.06, 0.06, 2) * side
    out = face_crop(np.pad(img, ((0, size), (0, 0), (0, 0)), mode="edge"), (c[0], c[1]), side, INPUT)
    return out[:, ::-1] if rng.random() < 0.5 else out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Rank AUC (ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@torch.inference_mode()
def predict(model: MesoTiny, x: np.ndarray) -> np.ndarray:
    model.eval()
    return np.concatenate([torch.sigmoid(model(to_tensor(x[i:i + 256]))).numpy() for i in range(0, len(x), 256)])


def evaluate(model: MesoTiny, data: Path) -> dict:
    out = {}
    for v in TEST_VARIANTS:
        x, y, _ = load(data, "test", v)
        p = predict(model, x)
        out[v] = {"auc": round(auc(p, y), 4), "generated": int(y.sum()), "real": int((1 - y).sum()),
                  "tpr_at_0.5": round(float((p[y == 1] > 0.5).mean()), 4),
                  "fpr_at_0.5": round(float((p[y == 0] > 0.5).mean()), 4)}
    return out


def train(data: Path, epochs: int, seed: int = 0) -> tuple[MesoTiny, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x, y, names = load(data, "train", "train")
    model = MesoTiny()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * (len(x) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        model.train()
        order, t, total = rng.permutation(len(x)), time.perf_counter(), 0.0
        for b in range(len(x) // 64):
            idx = order[b * 64:(b + 1) * 64]
            batch = to_tensor(np.stack([augment(x[i], rng) for i in idx]))
            loss = loss_fn(model(batch), torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(f"epoch {epoch + 1}/{epochs}: loss {total / (len(x) // 64):.4f} ({time.perf_counter() - t:.1f} s)",
              flush=True)
    summary = {"train_clips": names, "portraits": sorted({n.split(" (")[1][:-1] for n in names}), "train_generated": int(y.sum()), "train_real": int((1 - y).sum()),
               "epochs": epochs, "seed": seed}
    return model.eval(), summary


def save(model: MesoTiny, card: dict, weights: Path, card_path: Path) -> str:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(weights))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    card_path.write_text(json.dumps({"sha256": digest, **card}, indent=2) + "\n")
    return digest


TERMS = ("Trained on frames of the real talking-head clips in ../shared/data/driving and ../shared/data/train "
         "(research datasets such as VoxCeleb, HDTF, MEAD, LRS3 and broadcast video; see their MANIFEST.tsv) and "
         "on mimicam's own output driven by them. Several of those sources are licensed for non-commercial "
         "research only; these weights inherit those terms: non-commercial use only. No frame is shipped.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mimicam.tools.train_classifier", description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, default=DATA, help="the shared data folder (driving/, train/, portraits/)")
    p.add_argument("--data", type=Path, default=Path("/tmp/mimicam_cls/data"), help="crop cache (never shipped)")
    p.add_argument("--frames", type=int, default=40, help="frames per clip, generated and real")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    make_data(args.root, args.data, args.frames)
    model, summary = train(args.data, args.epochs)
    metrics = evaluate(model, args.data)
    card = {"model": "MesoTiny", "parameters": sum(q.numel() for q in model.parameters()), "input": INPUT,
            "context": CONTEXT, "input_format": "BGR uint8 face crop, badge band painted grey, /255",
            "output": "sigmoid score: likely generated by mimicam (advisory; never means real)",
            "held_out": {"rule": "every 4th clip (sorted) paired only with held-out portraits",
                         "portraits": list(TEST_PORTRAITS), "clips": load(args.data, "test", "clean")[2]},
            "metrics_held_out": metrics, "training": summary,
            "augmentation": "I420 round trip (p=0.8), low-resolution round trip 0.3-0.6 (p=0.3), resize 0.5-1, JPEG 4:2:0 q30-95 (p=0.85), box jitter, flip",
            "terms": TERMS}
    digest = save(model, card, args.out, args.out.with_suffix(".json") if args.out != WEIGHTS_PATH else CARD_PATH)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {args.out} sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
