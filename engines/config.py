"""Generator configurations. One frozen dataclass; the registry maps names to instances."""
from __future__ import annotations

from dataclasses import dataclass

from .layout import NUM_KP


@dataclass(frozen=True)
class GeneratorConfig:
    name: str
    image_size: int  # side of the generated face crop, pixels
    motion_size: int  # side at which flow / dense motion is computed (then upsampled)
    num_kp: int = NUM_KP
    # Learned parts (issue 3): channel widths of the dense-motion hourglass and the generator.
    block_expansion: int = 64
    max_features: int = 1024
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    dm_block_expansion: int = 64
    dm_max_features: int = 1024
    dm_num_blocks: int = 5
    residual_stride: int = 1  # the image residual is decoded at image_size / residual_stride, then upsampled
    # Head region in template units (face oval 2 units tall, centre at the rigid-landmark mean, about the
    # nose; forehead top at -0.92, chin at +1.08). Kept tight: whatever the region holds moves with the head,
    # background included (bent lines); what it misses stays behind (hair pulled into strands).
    head_half_width: float = 1.05  # face oval: 0.85
    head_up: float = 1.77  # hair above the forehead moves with the head
    head_down: float = 1.25


CONFIGS: dict[str, GeneratorConfig] = {
    # CPU: the closed-form warp (no convolutions) with the flow at 48 px is the default and runs in real
    # time; with --weights, the learned parts at quarter width (one bottleneck block, four hourglass
    # levels, image residual decoded at 128 px, encoder features cached: ~2.3 GFLOPs, ~57 ms on 2 cores).
    "lite": GeneratorConfig("lite", image_size=256, motion_size=48, block_expansion=16, max_features=256,
                            num_bottleneck_blocks=1, dm_block_expansion=16, dm_max_features=256,
                            dm_num_blocks=4, residual_stride=2),
    # The dimensions of FOMM's vox-256 (for GPUs).
    "vox256": GeneratorConfig("vox256", image_size=256, motion_size=64),
}


def get_config(name: str) -> GeneratorConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown generator config {name!r}: expected one of {sorted(CONFIGS)}") from None
