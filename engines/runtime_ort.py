"""ONNX Runtime backend (the CPU default). Both graphs run with I/O binding onto buffers allocated in
``open()``: the portrait cache that the encoder writes is bound directly as the generator's input, and
``generate`` only copies the keypoints in."""
from __future__ import annotations

import os

import numpy as np

from .backend import GeneratorBackend
from .files import env_int
from .spec import ModelSpec


class OrtBackend(GeneratorBackend):
    name = "ort"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            from ._ort import onnxruntime

            onnxruntime()
        except ImportError:
            return "onnxruntime is not installed (pip install onnxruntime)"
        return None

    @classmethod
    def describe(cls) -> str:
        from ._ort import onnxruntime

        ort = onnxruntime()
        return f"{ort.__version__} ({', '.join(ort.get_available_providers())})"

    def _session(self, path, threads: int):
        from ._ort import onnxruntime

        ort = onnxruntime()

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        # no busy-waiting: on a 2-core laptop spinning ORT threads starve MediaPipe and the capture thread
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])

    def _buffers(self, spec: ModelSpec, which: str) -> dict[str, np.ndarray]:
        tensors = spec.inputs if which == "in" else spec.outputs
        return {t.name: np.zeros(t.shape, np.float32) for t in tensors}

    def _open_impl(self) -> None:
        from ._ort import onnxruntime
        from .graphs import ensure_graphs

        ort = onnxruntime()

        enc_path, gen_path = ensure_graphs(self.config, self.weights)
        threads = env_int("MIMICAM_ORT_THREADS", 0, 0, 256) or min(4, os.cpu_count() or 1)
        self._enc, self._gen = self._session(enc_path, threads), self._session(gen_path, threads)
        self._enc_in = self._buffers(self.encoder_spec, "in")
        cache = self._buffers(self.encoder_spec, "out")  # encoder outputs == generator cache inputs
        self._gen_in = {**cache, **{n: np.zeros(self.generator_spec.input(n).shape, np.float32)
                                    for n in ("kp_driving", "jac_driving")}}
        self._gen_out = self._buffers(self.generator_spec, "out")
        self._outputs = tuple(self._gen_out[n] for n in self.generator_spec.output_names)
        self._enc_bind, self._gen_bind = self._enc.io_binding(), self._gen.io_binding()
        ov = ort.OrtValue.ortvalue_from_numpy
        self._keep = []  # OrtValues must outlive the bindings
        for bind, ins, outs in ((self._enc_bind, self._enc_in, cache), (self._gen_bind, self._gen_in, self._gen_out)):
            for name, arr in ins.items():
                v = ov(arr)
                self._keep.append(v)
                bind.bind_ortvalue_input(name, v)
            for name, arr in outs.items():
                v = ov(arr)
                self._keep.append(v)
                bind.bind_ortvalue_output(name, v)
        self._has_source = False

    def _close_impl(self) -> None:
        self._enc = self._gen = self._enc_bind = self._gen_bind = None
        self._keep = []

    def set_source(self, source: np.ndarray, kp: np.ndarray, jac: np.ndarray) -> None:
        np.copyto(self._enc_in["source"], source)
        np.copyto(self._enc_in["kp_source_in"], kp)
        np.copyto(self._enc_in["jac_source_in"], jac)
        self._enc.run_with_iobinding(self._enc_bind)
        self._has_source = True

    def generate(self, kp: np.ndarray, jac: np.ndarray) -> tuple[np.ndarray, ...]:
        if not self._has_source:
            raise RuntimeError("set_source() must be called before generate()")
        np.copyto(self._gen_in["kp_driving"], kp)
        np.copyto(self._gen_in["jac_driving"], jac)
        self._gen.run_with_iobinding(self._gen_bind)
        return self._outputs


def small_session(model: bytes, threads: int = 1):
    """An ONNX Runtime session for a small in-memory model (the advisory classifier), on ``threads`` threads,
    without spinning: it shares the CPU with the live pipeline."""
    from ._ort import onnxruntime

    ort = onnxruntime()
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
