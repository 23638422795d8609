"""ONNX -> TensorRT engine with the official TensorRT 10 Python API (build-time only; the runtime is
``runtime_trt.py``).

- ``OnnxParser`` on a network with static batch-1 shapes, checked against the ``ModelSpec``.
- fp16: ``BuilderFlag.FP16`` with precision constraints that keep the geometry in fp32 (grid
  sampling, the coordinate grids and keypoint / 2x2-Jacobian math, see ``keeps_fp32``); convolutions,
  normalisation and activations run in fp16. fp32: no reduced precision at all.
- A timing cache per (TensorRT version, GPU) that is loaded before and saved after every build.
- Progress through ``IProgressMonitor`` where the installed TensorRT has it.
``configure`` (the options -> builder-config translation) takes the ``tensorrt`` module as an
argument, so it is tested on a CPU with a stand-in.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable

from .errors import BackendUnavailable, ModelError
from . import _gpu
from .engine_cache import EngineCache, EngineKey, onnx_sha256
from .spec import ModelSpec

PRECISIONS = ("fp16", "fp32")

# Layer kinds (trt.LayerType names) that carry the FLOPs and are fine in fp16.
FP16_KINDS = frozenset({"CONVOLUTION", "DECONVOLUTION", "NORMALIZATION", "POOLING", "ACTIVATION", "PADDING",
                        "SCALE"})
# Always fp32: sampling positions must not be rounded to fp16 (0.1 px error at 256 px).
FP32_KINDS = frozenset({"GRID_SAMPLE"})
GEOMETRY_NAMES = re.compile(r"grid|coord|inverse|inv2|det|jac|kp_|keypoint|heatmap|gaussian|affine", re.I)
SMALL_TENSOR = 4096  # elements: keypoint-sized math costs nothing in fp32

ProgressFn = Callable[[str, str, int, int], None]  # (event "start"|"step"|"finish", phase, step, steps)


@dataclass(frozen=True)
class BuildOptions:
    precision: str = "fp16"
    workspace_mib: int = 2048
    optimization_level: int = 3  # TensorRT's default; 0..5
    keep_geometry_fp32: bool = True

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if not 0 <= self.optimization_level <= 5:
            raise ValueError(f"optimization_level: expected 0..5, got {self.optimization_level}")


@dataclass(frozen=True)
class LayerInfo:
    """What the precision policy needs to know about one network layer."""

    name: str
    kind: str  # trt.LayerType name, e.g. "CONVOLUTION"
    output_shapes: tuple[tuple[int, ...], ...]
    float_outputs: bool = True


def keeps_fp32(layer: LayerInfo) -> bool:
    """Whether an fp16 build pins this layer (and its outputs) to fp32."""
    if not layer.float_outputs:
        return False
    if layer.kind in FP32_KINDS:
        return True
    if layer.kind in FP16_KINDS:
        return False
    shapes = [s for s in layer.output_shapes if s and all(d > 0 for d in s)]
    if any(len(s) >= 3 and s[-1] == 2 or len(s) == 4 and s[1] == 2 for s in shapes):
        return True  # (..., 2) coordinates, grids, 2x2 matrices; (1, 2, H, W) flow fields
    if shapes and all(math.prod(s) <= SMALL_TENSOR for s in shapes):
        return True
    return bool(GEOMETRY_NAMES.search(layer.name))


def _layer_info(trt: ModuleType, layer) -> LayerInfo:
    floats = {trt.float32, trt.float16}
    outs = [layer.get_output(i) for i in range(layer.num_outputs)]
    return LayerInfo(layer.name, layer.type.name, tuple(tuple(o.shape) for o in outs),
                     bool(outs) and all(o.dtype in floats for o in outs))


def pin_fp32_layers(trt: ModuleType, network) -> list[str]:
    """Set fp32 precision constraints on the layers ``keeps_fp32`` selects; returns their names."""
    pinned = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if keeps_fp32(_layer_info(trt, layer)):
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                layer.set_output_type(j, trt.float32)
            pinned.append(layer.name)
    return pinned


def make_progress_monitor(trt: ModuleType, progress: ProgressFn):
    """An ``IProgressMonitor`` forwarding to ``progress``, or None where TensorRT has none."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _Monitor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self._steps: dict[str, int] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._steps[phase_name] = num_steps
            progress("start", phase_name, 0, num_steps)

        def step_complete(self, phase_name, step):
            progress("step", phase_name, step + 1, self._steps.get(phase_name, 0))
            return True  # never cancel

        def phase_finish(self, phase_name):
            progress("finish", phase_name, self._steps.get(phase_name, 0), self._steps.pop(phase_name, 0))

    return _Monitor()


def configure(trt: ModuleType, builder, network, config, opts: BuildOptions, timing_cache: bytes = b"",
              progress: ProgressFn | None = None) -> dict:
    """Translate ``opts`` onto a TensorRT builder config. Returns what was done (for the sidecar).

    Keep the returned monitor alive (``result["monitor"]``) until the build has finished."""
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mib << 20)
    config.builder_optimization_level = opts.optimization_level
    pinned: list[str] = []
    if opts.precision == "fp16":
        flags = trt.BuilderFlag
        if not hasattr(flags, "FP16"):
            raise BackendUnavailable(
                f"TensorRT {trt.__version__} has no fp16 builder flag (weak typing was removed in 11)",
                "install TensorRT 10 (pip install 'tensorrt>=10,<11') or build with --precision fp32")
        config.set_flag(flags.FP16)
        if opts.keep_geometry_fp32:
            config.set_flag(flags.PREFER_PRECISION_CONSTRAINTS)
            pinned = pin_fp32_layers(trt, network)
    cache = config.create_timing_cache(timing_cache)
    config.set_timing_cache(cache, False)
    monitor = make_progress_monitor(trt, progress) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
    return {"precision": opts.precision, "fp32_layers": pinned, "workspace_mib": opts.workspace_mib,
            "optimization_level": opts.optimization_level, "monitor": monitor}


def check_io(network, spec: ModelSpec) -> list[str]:
    """Compare the parsed network's inputs/outputs with the spec; returns the dynamic inputs' names."""
    ins = {network.get_input(i).name: tuple(network.get_input(i).shape) for i in range(network.num_inputs)}
    outs = {network.get_output(i).name: tuple(network.get_output(i).shape) for i in range(network.num_outputs)}
    problems, dynamic = [], []
    for kind, found, wanted in (("input", ins, spec.inputs), ("output", outs, spec.outputs)):
        if set(found) != {t.name for t in wanted}:
            problems.append(f"{kind}s {sorted(found)} (expected {sorted(t.name for t in wanted)})")
            continue
        for t in wanted:
            shape = found[t.name]
            free = [d < 0 for d in shape]
            if len(shape) == len(t.shape) and all(f or d == w for f, d, w in zip(free, shape, t.shape)):
                if any(free) and kind == "input":
                    dynamic.append(t.name)  # pinned to the spec's shape by an optimization profile
                continue
            problems.append(f"{kind} {t.name} shape {shape} (expected {t.shape})")
    if problems:
        raise ModelError(f"{spec.graph} ONNX does not match its ModelSpec: " + "; ".join(problems),
                         "re-export the ONNX graphs (delete the mimicam cache's onnx folder)")
    return dynamic


def parse_onnx(trt: ModuleType, builder, onnx_path: Path, logger):
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT could not parse {onnx_path.name}: {errors or 'unknown error'}",
                         "check the graph with tests/engines/test_onnx_trt_ops.py")
    return network, parser


def build_serialized(onnx_path: Path, spec: ModelSpec, opts: BuildOptions, timing_cache_path: Path | None = None,
                     progress: ProgressFn | None = None) -> tuple[bytes, dict]:
    """Build one engine; returns (engine bytes, build notes). Updates the timing cache file."""
    trt = _gpu.tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, parser = parse_onnx(trt, builder, Path(onnx_path), logger)
    dynamic = check_io(network, spec)
    config = builder.create_builder_config()
    if dynamic:  # pin every dynamic input to the spec's static batch-1 shape
        profile = builder.create_optimization_profile()
        for name in dynamic:
            shape = spec.input(name).shape
            profile.set_shape(name, shape, shape, shape)
        config.add_optimization_profile(profile)
    cached = timing_cache_path.read_bytes() if timing_cache_path and timing_cache_path.exists() else b""
    notes = configure(trt, builder, network, config, opts, cached, progress)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelError(f"TensorRT failed to build the {spec.graph} engine", "run with TensorRT logging: see stderr")
    if timing_cache_path is not None:
        from .files import atomic_write

        atomic_write(timing_cache_path, bytes(memoryview(config.get_timing_cache().serialize())))
    notes.pop("monitor", None)
    del parser
    return bytes(memoryview(serialized)), notes


def engine_key(onnx_path: Path, spec: ModelSpec, precision: str) -> EngineKey:
    return EngineKey(spec.config, spec.graph, precision, onnx_sha256(onnx_path), _gpu.probe().tensorrt_version or "?",
                     _gpu.compute_capability())


def ensure_engine(onnx_path: Path, spec: ModelSpec, opts: BuildOptions, cache: EngineCache | None = None,
                  progress: ProgressFn | None = None, force: bool = False) -> Path:
    """The cached engine for this ONNX file on this GPU, built here first when needed."""
    cache = cache or EngineCache()
    key = engine_key(Path(onnx_path), spec, opts.precision)
    timing = cache.timing_cache_path(key.tensorrt_version, key.compute_capability)
    extra: dict = {"gpu": _gpu.driver_info().gpu_name}

    def build() -> bytes:
        data, notes = build_serialized(Path(onnx_path), spec, opts, timing, progress)
        extra["build"] = notes
        return data

    return cache.get_or_build(key, build, extra, force=force)


def ensure_engines(onnx_paths: Iterable[Path], specs: Iterable[ModelSpec], opts: BuildOptions,
                   cache: EngineCache | None = None, progress: ProgressFn | None = None,
                   force: bool = False) -> list[Path]:
    return [ensure_engine(p, s, opts, cache, progress, force) for p, s in zip(onnx_paths, specs)]
