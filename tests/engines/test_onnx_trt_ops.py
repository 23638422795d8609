"""The exported ONNX graphs use only operators the TensorRT ONNX parser supports, within its documented
restrictions, and the fp16 precision policy pins their geometry (and only their geometry) to fp32.

SUPPORTED is the "Y" rows of the operator support matrix in onnx-tensorrt's docs/operators.md for
TensorRT 10 (opset 9..20+), limited to standard-domain operators of opset <= 17."""
from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")

from mimicam.engines.trt_build import LayerInfo, keeps_fp32  # noqa: E402

SUPPORTED = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization BlackmanWindow Cast
CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND
Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample GRU HammingWindow HannWindow
HardSigmoid HardSwish Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN LayerNormalization
LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
MeanVarianceNormalization Min Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad Pow PRelu QuantizeLinear
RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize
ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid
Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh
ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())
# Rows marked "N" there, which a graph of ours must never contain (Det: we use a closed-form 2x2 inverse).
UNSUPPORTED = frozenset("AffineGrid Bernoulli BitShift Col2Im Compress ConcatFromSequence ConvInteger DFT Det "
                        "DynamicQuantizeLinear MatMulInteger MaxRoiPool MaxUnpool Multinomial "
                        "NegativeLogLikelihoodLoss QLinearConv QLinearMatMul SoftmaxCrossEntropyLoss Unique".split())
RESIZE_MODES = {"nearest", "linear"}
RESIZE_TRANSFORMS = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
CONSTANT_AXES = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                 "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "Squeeze", "Unsqueeze"}

CONFIGS = ["lite", pytest.param("vox256", marks=pytest.mark.slow)]
GRAPHS = [0, 1]  # source_encoder, frame_generator


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _decode(v):
    return v.decode() if isinstance(v, bytes) else v


def _inferred(path):
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=True)
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        t = vi.type.tensor_type
        shapes[vi.name] = (tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim), t.elem_type)
    for init in model.graph.initializer:
        shapes[init.name] = (tuple(init.dims), init.data_type)
    return model, shapes


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("config", CONFIGS)
def test_ops_are_supported_by_the_tensorrt_parser(exported_graphs, config, graph):
    model, shapes = _inferred(exported_graphs(config)[graph])
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 17
    assert all(o.domain in ("", "ai.onnx") for o in model.opset_import), "custom domains need plugins"
    ops = {n.op_type for n in model.graph.node}
    assert not ops & UNSUPPORTED
    assert ops <= SUPPORTED, f"not in the TensorRT parser's supported list: {sorted(ops - SUPPORTED)}"
    constants = {i.name for i in model.graph.initializer} | {o for n in model.graph.node if n.op_type == "Constant"
                                                             for o in n.output}
    for node in model.graph.node:
        a = _attrs(node)
        if node.op_type == "GridSample":  # "Input must be 4D input"
            assert len(shapes[node.input[0]][0]) == 4 and len(shapes[node.input[1]][0]) == 4, node.name
        elif node.op_type == "Resize":
            assert _decode(a.get("mode", b"nearest")) in RESIZE_MODES, node.name
            assert _decode(a.get("coordinate_transformation_mode", b"half_pixel")) in RESIZE_TRANSFORMS, node.name
            assert not a.get("antialias", 0), node.name
        elif node.op_type in ("Conv", "ConvTranspose"):
            assert node.input[1] in constants, f"{node.name}: weights must be an initializer"
        elif node.op_type in CONSTANT_AXES and len(node.input) > 1 and node.input[1]:
            assert node.input[1] in constants, f"{node.name}: axes must be a build-time constant"
        elif node.op_type == "Einsum":
            eq = _decode(a["equation"])
            assert "..." not in eq, f"{node.name}: ellipsis in {eq}"
            assert all(len(set(term)) == len(term) for term in eq.split("->")[0].split(",")), f"diagonal {eq}"


@pytest.mark.parametrize("config", CONFIGS)
def test_precision_policy_on_the_real_generator(exported_graphs, config):
    """GridSample and the coordinate math stay fp32; every convolution runs in fp16."""
    model, shapes = _inferred(exported_graphs(config)[1])
    kinds = {"Conv": "CONVOLUTION", "ConvTranspose": "DECONVOLUTION", "GridSample": "GRID_SAMPLE",
             "Relu": "ACTIVATION", "Sigmoid": "ACTIVATION", "AveragePool": "POOLING"}
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    pinned, convs, total = set(), 0, 0
    for node in model.graph.node:
        outs = [shapes.get(o, ((), 0)) for o in node.output]
        info = LayerInfo(node.name, kinds.get(node.op_type, "ELEMENTWISE"), tuple(s for s, _ in outs),
                         all(t in floats for _, t in outs))
        total += 1
        if keeps_fp32(info):
            pinned.add(node.op_type)
            assert node.op_type not in ("Conv", "ConvTranspose"), node.name
        convs += node.op_type == "Conv"
    assert "GridSample" in pinned and convs > 0
    assert {"Sub", "Mul"} & pinned, "the coordinate / keypoint arithmetic should be pinned to fp32"
