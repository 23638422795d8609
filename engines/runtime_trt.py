"""TensorRT runtime (``--backend trt``): the two engines of ``spec.py`` on one CUDA stream.

- ``open()`` exports the ONNX graphs (cached), builds the engines here when the cache has none
  (``trt_build.ensure_engines``), deserialises them and allocates everything once: one device buffer
  per tensor name and page-locked host buffers for what crosses the bus.
- The portrait cache stays on the device: the encoder's outputs and the generator's cache inputs
  have the same names, so both contexts are bound to the same device buffers.
- Per frame only the driving keypoints go up and the result comes down. The generator launch is
  captured once into a CUDA graph (native library) where TensorRT allows; otherwise it is a plain
  ``execute_async_v3``.
- Paste-back, the mark and the badge happen on the CPU, in the Compositor and the Finisher, like for
  every backend: no GPU path can skip them.
Outputs are page-locked arrays reused by the next call: copy them to keep them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ModelError
from . import _gpu, native_lib
from .backend import GeneratorBackend
from .config import GeneratorConfig
from .engine_cache import EngineCache
from .trt_build import BuildOptions, ProgressFn, ensure_engines

HOST_IN = ("source", "kp_source_in", "jac_source_in", "kp_driving", "jac_driving")  # the generator's outputs too


class TrtBackend(GeneratorBackend):
    name = "trt"

    def __init__(self, config: GeneratorConfig, weights: Path | None = None, precision: str = "fp16",
                 device: int = 0, cuda_graph: bool = True, cache: EngineCache | None = None,
                 progress: ProgressFn | None = None) -> None:
        super().__init__(config, weights)
        self.precision, self.device, self.use_cuda_graph = precision, device, cuda_graph
        self._cache, self._progress = cache, progress
        self._ctx = None
        self._reset()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return _gpu.unavailable_reason()

    def _reset(self) -> None:
        self._runtime = self._stream = self._native = None
        self._engines: list = []
        self._contexts: list = []
        self._dev: dict[str, object] = {}
        self._host: dict[str, np.ndarray] = {}
        self._graph = 0
        self._outputs: tuple[np.ndarray, ...] = ()

    # --- open / close ----------------------------------------------------------------------------
    def _open_impl(self) -> None:
        trt = _gpu.tensorrt()
        self._ctx = _gpu.CudaContext(self.device)
        try:
            with self._ctx:
                self._open_in_context(trt)
        except BaseException:
            self._close_impl()
            raise

    def _open_in_context(self, trt) -> None:
        cuda = self._ctx.cuda
        specs = (self.encoder_spec, self.generator_spec)
        from .graphs import ensure_graphs  # torch only when the export is not cached

        onnx = ensure_graphs(self.config, self.weights)  # cached by config, weights and model code
        paths = ensure_engines(onnx, specs, BuildOptions(self.precision), self._cache, self._progress)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        for path, spec in zip(paths, specs):
            engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
            if engine is None:
                raise ModelError(f"TensorRT could not load the cached {spec.graph} engine {path}",
                                 "run `mimicam build-engine --force` to rebuild it")
            self._engines.append(engine)
            self._contexts.append(engine.create_execution_context())
        self._stream = cuda.Stream()
        for spec, engine, context in zip(specs, self._engines, self._contexts):
            self._bind(trt, cuda, spec, engine, context)
        for name in HOST_IN + self.generator_spec.output_names:
            t = self._spec_of(name)
            self._host[name] = cuda.pagelocked_empty(t.shape, np.float32)
        self._outputs = tuple(self._host[n] for n in self.generator_spec.output_names)
        self._native = native_lib.load()
        self._launch_direct()  # first enqueue does TensorRT's lazy set-up; required before capture
        self._stream.synchronize()
        if self.use_cuda_graph and self._native is not None:
            self._capture()

    def _spec_of(self, name: str):
        for t in self.encoder_spec.inputs + self.encoder_spec.outputs + self.generator_spec.inputs \
                + self.generator_spec.outputs:
            if t.name == name:
                return t
        raise KeyError(name)

    def _bind(self, trt, cuda, spec, engine, context) -> None:
        names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
        if names != set(spec.input_names + spec.output_names):
            raise ModelError(f"{spec.graph} engine tensors {sorted(names)} do not match the spec",
                             "run `mimicam build-engine --force`")
        for t in spec.inputs + spec.outputs:
            shape = tuple(engine.get_tensor_shape(t.name))
            if t.name in spec.input_names and any(d < 0 for d in shape):
                context.set_input_shape(t.name, t.shape)
                shape = tuple(context.get_tensor_shape(t.name))
            if shape != t.shape or engine.get_tensor_dtype(t.name) != trt.float32:
                raise ModelError(f"{spec.graph} engine tensor {t.name}: {shape} "
                                 f"{engine.get_tensor_dtype(t.name)} (expected {t.shape} float32)")
            if t.name not in self._dev:  # the portrait cache: one buffer for both engines
                self._dev[t.name] = cuda.mem_alloc(int(np.prod(t.shape)) * 4)
            context.set_tensor_address(t.name, int(self._dev[t.name]))

    def _capture(self) -> None:
        handle = self._stream.handle
        try:
            self._native.graph_begin(handle)
        except native_lib.NativeError:
            return
        ok = self._contexts[1].execute_async_v3(handle)
        try:
            exec_ = self._native.graph_end(handle)
        except native_lib.NativeError:
            exec_ = 0
        if ok and exec_:
            self._graph = exec_
        elif exec_:
            self._native.graph_destroy(exec_)

    def _close_impl(self) -> None:
        if self._ctx is None:
            return
        with self._ctx:
            if self._stream is not None:
                self._stream.synchronize()
            if self._graph and self._native is not None:
                self._native.graph_destroy(self._graph)
            for alloc in self._dev.values():
                alloc.free()
            self._contexts.clear()  # contexts before engines before the runtime
            self._engines.clear()
            self._reset()
        self._ctx.release()
        self._ctx = None

    # --- per portrait / per frame ----------------------------------------------------------------
    def _upload(self, name: str, value: np.ndarray) -> None:
        host = self._host[name]
        if value.shape != host.shape:
            raise ValueError(f"{name}: expected shape {host.shape}, got {value.shape}")
        np.copyto(host, value, casting="same_kind")
        self._ctx.cuda.memcpy_htod_async(self._dev[name], host, self._stream)

    def _launch_direct(self) -> None:
        if not self._contexts[1].execute_async_v3(self._stream.handle):
            raise ModelError("TensorRT failed to enqueue the frame_generator engine")

    def _run_generator(self, kp: np.ndarray, jac: np.ndarray) -> None:
        self._upload("kp_driving", kp)
        self._upload("jac_driving", jac)
        if self._graph:
            self._native.graph_launch(self._graph, self._stream.handle)
        else:
            self._launch_direct()

    def _require_open(self) -> None:
        if not self._open or self._ctx is None:
            raise RuntimeError("TrtBackend is not open: use `with backend:` or call open() first")

    def set_source(self, source: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        self._require_open()
        with self._ctx:
            self._upload("source", source)
            self._upload("kp_source_in", kp)
            self._upload("jac_source_in", jac)
            if not self._contexts[0].execute_async_v3(self._stream.handle):
                raise ModelError("TensorRT failed to enqueue the source_encoder engine")
            self._stream.synchronize()

    def generate(self, kp: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, ...]:
        """-> the generator's outputs (spec order) as page-locked arrays reused by the next call."""
        self._require_open()
        cuda = self._ctx.cuda
        with self._ctx:
            self._run_generator(kp, jac)
            for name, host in zip(self.generator_spec.output_names, self._outputs):
                cuda.memcpy_dtoh_async(host, self._dev[name], self._stream)
            self._stream.synchronize()
        return self._outputs
