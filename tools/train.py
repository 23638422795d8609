"""`mimicam train`: train the generator's learned residuals on a folder of talking-head videos.

    mimicam train --data DIR --config lite --out RUN_DIR [--steps N] [--resume]

Writes RUN_DIR/checkpoints/step_NNNNNN.safetensors (+ .json sidecar) every --checkpoint-every steps and
RUN_DIR/last.safetensors; use one with --weights on live/render/demo/bench.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..engines.config import CONFIGS

    p = subparsers.add_parser("train", help="train the learned generator on talking-head videos",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder of talking-head videos")
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, options)")
    p.add_argument("--config", default="lite", choices=sorted(CONFIGS))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=250, metavar="N")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of videos held out")
    p.add_argument("--frames-per-video", type=int, default=48)
    p.add_argument("--cache", type=Path, help="landmark/frame cache (default RUN_DIR/frames)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--time-limit", type=float, default=0.0, metavar="MIN", help="stop (with a checkpoint) after MIN")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.safetensors")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import torch

    from .train_generator import TrainOptions, train

    if args.threads:
        torch.set_num_threads(args.threads)
    opts = TrainOptions(data=args.data, out=args.out, config=args.config, steps=args.steps, batch=args.batch,
                        lr=args.lr, seed=args.seed, val_fraction=args.val_fraction,
                        checkpoint_every=args.checkpoint_every, frames_per_video=args.frames_per_video,
                        cache=args.cache, resume=args.resume, time_limit_min=args.time_limit)
    metrics = train(opts)
    print(f"weights: {args.out / 'last.safetensors'}")
    if metrics:
        print("validation: " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return 0
