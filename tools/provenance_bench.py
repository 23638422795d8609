"""Provenance benchmark: prints the numbers of issue 5 (watermark robustness, false positives, cost).

    python -m mimicam.tools.provenance_bench [--quick] [--json OUT]

Attack chain ("transport"): I420 round trip, downscale 0.5 (INTER_AREA), 2-pixel shift, JPEG q50 4:2:0;
the verifier is not told the scale or the shift. Real clips from /work/shared/data (never shipped).
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np

from ..realtime.provenance import ecc
from ..realtime.provenance import pattern as P
from ..realtime.provenance.verifier import MarkVerifier
from ..realtime.provenance.watermark import Watermarker

DATA = Path("/work/shared/data")
KEY_A, KEY_B = b"A" * 32, b"B" * 32
WINDOW = 30


def transport(img: np.ndarray, q: int = 50, scale: float = 0.5, shift: int = 2) -> np.ndarray:
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2      # I420 needs even sizes
    img = cv2.cvtColor(cv2.cvtColor(img[:h, :w], cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)
    if scale != 1:
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    if shift:
        img = np.roll(img, (shift, shift), axis=(0, 1))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q,
                                         cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def clip_frames(path: str, limit: int | None = None, max_side: int | None = None):
    cap = cv2.VideoCapture(path)
    n = 0
    while limit is None or n < limit:
        ok, f = cap.read()
        if not ok:
            break
        if max_side and max(f.shape[:2]) > max_side:
            k = max_side / max(f.shape[:2])
            f = cv2.resize(f, (round(f.shape[1] * k), round(f.shape[0] * k)), interpolation=cv2.INTER_AREA)
        n += 1
        yield f
    cap.release()


def marked_windows(path: str, key: bytes, limit: int | None, attack, psnrs: list | None = None):
    """Yield lists of WINDOW attacked marked frames (counter = frame number)."""
    wm = Watermarker(key, session_id=4242).open()
    buf = []
    for i, f in enumerate(clip_frames(path, limit)):
        x = f.copy()
        wm.embed(x, i)
        if psnrs is not None:
            psnrs.append(10 * math.log10(255 ** 2 / max(np.mean((x.astype(np.float32) - f) ** 2), 1e-9)))
        buf.append(attack(x))
        if len(buf) == WINDOW:
            yield buf
            buf = []


def window_tpr(clips: list[str], limit: int | None, attack) -> dict:
    hits = valid = total = 0
    psnrs: list[float] = []
    zs = []
    for path in clips:
        for win in marked_windows(path, KEY_A, limit, attack, psnrs):
            v = MarkVerifier(KEY_A)
            for f in win:
                v.feed(f)
            r = v.result()
            total += 1
            hits += r.marked
            valid += r.marked and r.mac == "valid"
            zs.append(r.z)
    return {"windows": total, "tpr": hits / max(total, 1), "valid_mac_rate": valid / max(total, 1),
            "z_min": float(min(zs, default=0)), "psnr_mean": float(np.mean(psnrs)), "psnr_min": float(np.min(psnrs))}


def bit_accuracy(clips: list[str], limit: int, q: int) -> dict:
    """Per-frame payload decoding at JPEG q (4:2:0) + I420, full size, sync taken from the window."""
    raw, dec = [], []
    truth = P.pack_payload(KEY_A, 4242, 0)
    for path in clips:
        for win in marked_windows(path, KEY_A, limit, lambda x: transport(x, q=q, scale=1, shift=0)):
            v = MarkVerifier(KEY_A, scales=(1.0,))
            for f in win:
                v.feed(f)
            v.result()
            hyp = v.last_hypothesis
            for n in range(len(win)):
                one = dataclasses.replace(hyp, feats=hyp.feats[n:n + 1])
                (offset, soft), = v.soft_bits(one, np.array([n])).items()
                epoch = (hyp.phase + n) // P.PHASES + 0
                true_coded = P.pack_payload(KEY_A, 4242, epoch) if epoch else truth
                true_bits = ecc.decode(true_coded)
                raw.append(np.mean((soft > 0) == (true_coded > 0)))
                dec.append(np.mean(ecc.decode(soft) == true_bits))
            break  # first window of each clip (counters 0..29 -> epoch 0)
    return {"frames": len(raw), "coded_bit_accuracy": float(np.mean(raw)), "payload_bit_accuracy": float(np.mean(dec)),
            "payload_bit_accuracy_min": float(np.min(dec))}


def false_positives(paths: list[str], n_full: int, n_fixed: int, key_embed: bytes | None) -> dict:
    """Unmarked (or other-key) windows: full search on n_full windows, scale fixed to 0.5 on n_fixed sliding ones."""
    full = fixed = fp_mark = fp_valid = fixed_mark = fixed_valid = 0
    zmax_full = zmax_fixed = 0.0
    for path in paths:
        wm = Watermarker(key_embed, session_id=99).open() if key_embed else None
        frames = []
        for i, f in enumerate(clip_frames(path, None, max_side=512)):
            if min(f.shape[:2]) < 64:
                break
            if wm:
                wm.embed(f, i)
            frames.append(transport(f))
        if len(frames) < WINDOW:
            continue
        slide = MarkVerifier(KEY_A, scales=(0.5,))
        for i, f in enumerate(frames):
            slide.feed(f)
            if i + 1 >= WINDOW and fixed < n_fixed:
                r = slide.result()
                fixed += 1
                fixed_mark += r.marked
                fixed_valid += r.marked and r.mac == "valid"
                zmax_fixed = max(zmax_fixed, r.z)
        for s in range(0, len(frames) - WINDOW + 1, WINDOW):
            if full >= n_full:
                break
            v = MarkVerifier(KEY_A)
            for f in frames[s:s + WINDOW]:
                v.feed(f)
            r = v.result()
            full += 1
            fp_mark += r.marked
            fp_valid += r.marked and r.mac == "valid"
            zmax_full = max(zmax_full, r.z)
        if full >= n_full and fixed >= n_fixed:
            break
    return {"full_search_windows": full, "full_marked": fp_mark, "full_valid_mac": fp_valid, "full_z_max": zmax_full,
            "fixed_scale_windows": fixed, "fixed_marked": fixed_mark, "fixed_valid_mac": fixed_valid,
            "fixed_z_max": zmax_fixed}


def embed_ms(shape: tuple[int, int], reps: int = 200) -> float:
    cv2.setNumThreads(1)
    src = next(clip_frames(str(DATA / "driving/lp_s18_woman_landscape.mp4"), 1))
    img = cv2.resize(src, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    wm = Watermarker(KEY_A).open()
    ts = []
    for c in range(reps):
        x = img.copy()
        t = time.perf_counter()
        wm.embed(x, c)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def h264_tpr(bitrate: int = 1_000_000) -> dict:
    import av
    path = str(DATA / "driving/lp_s18_woman_landscape.mp4")
    wm = Watermarker(KEY_A, session_id=4242).open()
    out_path = "/tmp/mimicam_bench_h264.mp4"
    with av.open(out_path, "w") as out:
        st = out.add_stream("libx264", rate=30)
        st.width, st.height, st.pix_fmt, st.bit_rate = 1280, 720, "yuv420p", bitrate
        for i, f in enumerate(clip_frames(path)):
            wm.embed(f, i)
            for pkt in st.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    size = Path(out_path).stat().st_size
    hits = total = 0
    with av.open(out_path) as inp:
        frames = [fr.to_ndarray(format="bgr24") for fr in inp.decode(video=0)]
    for s in range(0, len(frames) - WINDOW + 1, WINDOW):
        v = MarkVerifier(KEY_A)
        for f in frames[s:s + WINDOW]:
            v.feed(f)
        r = v.result()
        total += 1
        hits += r.marked and r.mac == "valid"
    return {"windows": total, "tpr_valid": hits / max(total, 1), "kbit_s": size * 8 * 30 / len(frames) / 1000}


def dwtdct_comparison(clips: list[str], windows_per_clip: int = 1) -> dict:
    """invisible-watermark's dwtDct (32-bit payload) through the same transport; its decoder is given the
    original size back (it cannot search scale). Window = majority vote of the frames' bits."""
    try:
        from imwatermark import WatermarkDecoder, WatermarkEncoder
    except ImportError:
        return {"available": False}
    payload = np.random.default_rng(0).integers(0, 2, 32).astype(bool)
    enc = WatermarkEncoder()
    enc.set_watermark("bits", payload.tolist())
    dec = WatermarkDecoder("bits", 32)
    accs, hits, total = [], 0, 0
    for path in clips:
        frames = list(clip_frames(path, WINDOW * windows_per_clip))
        for s in range(0, len(frames) - WINDOW + 1, WINDOW):
            votes = np.zeros(32)
            for f in frames[s:s + WINDOW]:
                x = enc.encode(f, "dwtDct")
                y = cv2.resize(transport(x), (f.shape[1], f.shape[0]), interpolation=cv2.INTER_CUBIC)
                bits = np.array(dec.decode(y, "dwtDct"), bool)
                accs.append(np.mean(bits == payload))
                votes += 2 * bits - 1
            total += 1
            hits += bool(np.all((votes > 0) == payload))
    return {"available": True, "frames": len(accs), "bit_accuracy": float(np.mean(accs)),
            "window_exact_payload_rate": hits / max(total, 1), "windows": total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few windows only")
    ap.add_argument("--fp-fixed", type=int, default=10_000)
    ap.add_argument("--fp-full", type=int, default=300)
    ap.add_argument("--skip", nargs="*", default=[], help="parts to skip: cost tpr bits h264 fp dwtdct")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    driving = sorted(glob.glob(str(DATA / "driving/*.mp4")))
    train = sorted(glob.glob(str(DATA / "train/*.mp*"))) + sorted(glob.glob(str(DATA / "train/*.mov")))
    limit = 60 if a.quick else None
    res: dict = {"threshold": {"alpha": 1e-6, "hypotheses_search": MarkVerifier(KEY_A).hypotheses,
                               "z_threshold": math.sqrt(2 * math.log(MarkVerifier(KEY_A).hypotheses / 1e-6))}}
    if "cost" not in a.skip:
        res["embed_ms"] = {"256x256": embed_ms((256, 256)), "1280x720": embed_ms((720, 1280))}
        print("embed ms", res["embed_ms"], flush=True)
    if "tpr" not in a.skip:
        res["tpr_transport"] = window_tpr(driving, limit, transport)
        print("window TPR after I420+0.5+shift2+JPEG50", res["tpr_transport"], flush=True)
    if "bits" not in a.skip:
        res["bits_q75"] = bit_accuracy(driving, WINDOW, 75)
        print("per-frame bits at q75", res["bits_q75"], flush=True)
    if "h264" not in a.skip:
        res["h264_1mbit"] = h264_tpr()
        print("H.264 ~1 Mbit/s 720p", res["h264_1mbit"], flush=True)
    if "fp" not in a.skip:
        n_full, n_fixed = (20, 200) if a.quick else (a.fp_full, a.fp_fixed)
        res["fp_real"] = false_positives(train + driving, n_full, n_fixed, None)
        print("false positives, real frames", res["fp_real"], flush=True)
        res["fp_other_key"] = false_positives(driving + train, n_full // 3, n_fixed // 5, KEY_B)
        print("other-key windows (marked, must never be valid)", res["fp_other_key"], flush=True)
    if "dwtdct" not in a.skip:
        res["dwtdct"] = dwtdct_comparison(driving)
        print("invisible-watermark dwtDct, same transport", res["dwtdct"], flush=True)
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
