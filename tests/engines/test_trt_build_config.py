"""Build-config translation (BuildOptions -> TensorRT builder config) against a stand-in ``tensorrt``
module, and the fp32 precision policy. No GPU or TensorRT needed."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from mimicam.engines.config import get_config
from mimicam.engines.spec import graph_specs
from mimicam.engines.trt_build import BuildOptions, LayerInfo, check_io, configure, keeps_fp32
from mimicam.realtime.errors import BackendUnavailable, ModelError


class Kind:
    def __init__(self, name: str) -> None:
        self.name = name


class Tensor:
    def __init__(self, name, shape, dtype="f32"):
        self.name, self.shape, self.dtype = name, shape, dtype


class Layer:
    def __init__(self, name, kind, *outputs):
        self.name, self.type, self._outs = name, Kind(kind), list(outputs)
        self.precision, self.output_types = None, {}

    num_outputs = property(lambda self: len(self._outs))

    def get_output(self, i):
        return self._outs[i]

    def set_output_type(self, i, dtype):
        self.output_types[i] = dtype


class Network:
    def __init__(self, layers=(), inputs=(), outputs=()):
        self.layers, self.inputs, self.outputs = list(layers), list(inputs), list(outputs)

    num_layers = property(lambda self: len(self.layers))
    num_inputs = property(lambda self: len(self.inputs))
    num_outputs = property(lambda self: len(self.outputs))

    def get_layer(self, i):
        return self.layers[i]

    def get_input(self, i):
        return self.inputs[i]

    def get_output(self, i):
        return self.outputs[i]


class Config:
    def __init__(self):
        self.flags, self.pools, self.timing, self.progress_monitor = set(), {}, None, None
        self.builder_optimization_level = None

    def set_flag(self, flag):
        self.flags.add(flag)

    def set_memory_pool_limit(self, pool, size):
        self.pools[pool] = size

    def create_timing_cache(self, data):
        return ("timing-cache", bytes(data))

    def set_timing_cache(self, cache, ignore_mismatch):
        self.timing = (cache, ignore_mismatch)


class MonitorBase:
    def __init__(self):
        self.base_initialised = True


def fake_trt(version="10.9.0", weak_typing=True, monitor=True):
    flags = dict(PREFER_PRECISION_CONSTRAINTS="PREFER", OBEY_PRECISION_CONSTRAINTS="OBEY")
    if weak_typing:
        flags["FP16"] = "FP16"
    trt = SimpleNamespace(__version__=version, float32="f32", float16="f16", int32="i32",
                          BuilderFlag=SimpleNamespace(**flags), MemoryPoolType=SimpleNamespace(WORKSPACE="WS"))
    if monitor:
        trt.IProgressMonitor = MonitorBase
    return trt


def sample_network():
    return Network([
        Layer("/Conv", "CONVOLUTION", Tensor("a", (1, 256, 64, 64))),
        Layer("/GridSample", "GRID_SAMPLE", Tensor("b", (1, 256, 64, 64))),
        Layer("/Sub", "ELEMENTWISE", Tensor("c", (1, 23, 64, 64, 2))),  # per-keypoint coordinate grids
        Layer("/Einsum", "EINSUM", Tensor("d", (1, 22, 2, 2))),  # 2x2 Jacobian products
        Layer("/Mul_big", "ELEMENTWISE", Tensor("e", (1, 256, 64, 64))),  # feature math: fp16
        Layer("/Shape", "SHAPE", Tensor("f", (4,), "i32")),
        Layer("/Resize_flow", "RESIZE", Tensor("g", (1, 2, 256, 256))),  # flow field upsampling
    ])


def pinned(net):
    return [layer.name for layer in net.layers if layer.precision == "f32"]


def test_fp16_sets_flags_pool_level_and_pins_geometry():
    trt, net, cfg = fake_trt(), sample_network(), Config()
    notes = configure(trt, None, net, cfg, BuildOptions("fp16", workspace_mib=512, optimization_level=4), b"tc")
    assert {"FP16", "PREFER"} <= cfg.flags
    assert cfg.pools == {"WS": 512 << 20} and cfg.builder_optimization_level == 4
    assert cfg.timing == (("timing-cache", b"tc"), False)
    assert pinned(net) == ["/GridSample", "/Sub", "/Einsum", "/Resize_flow"]
    assert notes["fp32_layers"] == pinned(net)
    assert all(layer.output_types == {0: "f32"} for layer in net.layers if layer.precision == "f32")


def test_fp32_uses_no_reduced_precision():
    net, cfg = sample_network(), Config()
    notes = configure(fake_trt(), None, net, cfg, BuildOptions("fp32"))
    assert "FP16" not in cfg.flags and not pinned(net) and notes["fp32_layers"] == []


def test_fp16_without_geometry_pinning():
    net, cfg = sample_network(), Config()
    configure(fake_trt(), None, net, cfg, BuildOptions("fp16", keep_geometry_fp32=False))
    assert cfg.flags == {"FP16"} and not pinned(net)


def test_tensorrt_11_fp16_says_what_to_do_and_fp32_still_builds():
    trt = fake_trt("11.0.0", weak_typing=False)
    with pytest.raises(BackendUnavailable, match="--precision fp32"):
        configure(trt, None, sample_network(), Config(), BuildOptions("fp16"))
    configure(trt, None, sample_network(), Config(), BuildOptions("fp32"))


def test_progress_monitor_forwards_phases():
    events, cfg = [], Config()
    configure(fake_trt(), None, Network(), cfg, BuildOptions("fp32"), progress=lambda *e: events.append(e))
    mon = cfg.progress_monitor
    assert mon.base_initialised
    mon.phase_start("Building", None, 2)
    assert mon.step_complete("Building", 0) is True
    mon.phase_finish("Building")
    assert events == [("start", "Building", 0, 2), ("step", "Building", 1, 2), ("finish", "Building", 2, 2)]


def test_no_progress_monitor_where_tensorrt_has_none():
    cfg = Config()
    configure(fake_trt(monitor=False), None, Network(), cfg, BuildOptions("fp32"), progress=lambda *e: None)
    assert cfg.progress_monitor is None


def test_options_are_validated():
    with pytest.raises(ValueError, match="precision"):
        BuildOptions("int8")
    with pytest.raises(ValueError, match="optimization_level"):
        BuildOptions(optimization_level=9)


def test_keeps_fp32_policy():
    assert keeps_fp32(LayerInfo("/x", "GRID_SAMPLE", ((1, 3, 256, 256),)))
    assert not keeps_fp32(LayerInfo("/grid/Conv", "CONVOLUTION", ((1, 64, 64, 64),)))
    assert keeps_fp32(LayerInfo("/Mul", "ELEMENTWISE", ((1, 22, 2),)))  # keypoint-sized
    assert keeps_fp32(LayerInfo("/inverse/Div", "ELEMENTWISE", ((1, 22, 64, 64),)))  # by name
    assert not keeps_fp32(LayerInfo("/Mul", "ELEMENTWISE", ((1, 64, 128, 128),)))
    assert not keeps_fp32(LayerInfo("/Shape", "SHAPE", ((4,),), float_outputs=False))


def _io(spec, shapes=None):
    shapes = shapes or {}
    return Network(inputs=[Tensor(t.name, shapes.get(t.name, t.shape)) for t in spec.inputs],
                   outputs=[Tensor(t.name, t.shape) for t in spec.outputs])


def test_check_io_against_spec():
    enc, gen = graph_specs(get_config("lite"))
    assert check_io(_io(gen), gen) == []
    kp = gen.input("kp_driving").shape
    assert check_io(_io(gen, {"kp_driving": (-1,) + kp[1:]}), gen) == ["kp_driving"]
    with pytest.raises(ModelError, match="kp_driving"):
        check_io(_io(gen, {"kp_driving": (1, kp[1] + 1, 2)}), gen)
    with pytest.raises(ModelError, match="inputs"):
        check_io(_io(enc), gen)
