"""``ModelSpec``: the one contract shared by export, engine build and every runtime.

Two graphs per generator config:
- ``source_encoder`` (once per portrait): the portrait crop and its keypoints -> the portrait cache.
- ``frame_generator`` (per frame): the portrait cache + driving keypoints -> generated crop, paste mask,
  the flow (sampling grid at motion size, crop-normalised) and the paint alpha (where the crop is painted,
  not warped: mouth interior, lids), so the compositor can sample the full-resolution portrait itself.
The names of the cache tensors are the same on both sides, so a runtime can bind the encoder's
outputs straight to the generator's inputs (TensorRT keeps them on the device).
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import GeneratorConfig

OPSET = 17


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class ModelSpec:
    graph: str  # "source_encoder" | "frame_generator"
    config: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    opset: int = OPSET
    precision: str = "fp32"

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    def input(self, name: str) -> TensorSpec:
        return next(t for t in self.inputs if t.name == name)

    def output(self, name: str) -> TensorSpec:
        return next(t for t in self.outputs if t.name == name)


def feature_shape(cfg: GeneratorConfig) -> tuple[int, int, int, int]:
    """Shape of the cached portrait features of the learned generator's encoder."""
    c = min(cfg.max_features, cfg.block_expansion * 2 ** cfg.num_down_blocks)
    side = cfg.image_size // 2 ** cfg.num_down_blocks
    return (1, c, side, side)


def cache_specs(cfg: GeneratorConfig) -> tuple[TensorSpec, ...]:
    s, k, m = cfg.image_size, cfg.num_kp, cfg.motion_size
    return (
        TensorSpec("src_image", (1, 3, s, s)),
        TensorSpec("src_mouth", (1, 3, 1, 2)),  # interior, teeth colours
        TensorSpec("kp_source", (1, k, 2)),
        TensorSpec("jac_source", (1, k, 2, 2)),
        TensorSpec("src_skin", (1, m, m)),  # where the portrait has its skin's colour (prior.skin_like)
        TensorSpec("src_features", feature_shape(cfg)),
    )


def source_encoder_spec(cfg: GeneratorConfig) -> ModelSpec:
    s, k = cfg.image_size, cfg.num_kp
    inputs = (TensorSpec("source", (1, 3, s, s)), TensorSpec("kp_source_in", (1, k, 2)),
              TensorSpec("jac_source_in", (1, k, 2, 2)))
    return ModelSpec("source_encoder", cfg.name, inputs, cache_specs(cfg))


def frame_generator_spec(cfg: GeneratorConfig) -> ModelSpec:
    s, k, m = cfg.image_size, cfg.num_kp, cfg.motion_size
    inputs = cache_specs(cfg) + (TensorSpec("kp_driving", (1, k, 2)), TensorSpec("jac_driving", (1, k, 2, 2)))
    outputs = (TensorSpec("image", (1, 3, s, s)), TensorSpec("mask", (1, 1, s, s)),
               TensorSpec("flow", (1, m, m, 2)), TensorSpec("paint", (1, 1, s, s)))
    return ModelSpec("frame_generator", cfg.name, inputs, outputs)


def graph_specs(cfg: GeneratorConfig) -> tuple[ModelSpec, ModelSpec]:
    return source_encoder_spec(cfg), frame_generator_spec(cfg)
