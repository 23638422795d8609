"""ONNX Runtime 1.29+ writes a device id under ~/.cache/Microsoft and may upload events unless told
not to: mimicam switches it off before importing it. Checked in a fresh process with a fresh home."""
import os
import subprocess
import sys

CODE = """
import numpy as np
from mimicam.engines._ort import onnxruntime
from onnx import TensorProto, helper
ort = onnxruntime()
g = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'g',
                      [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)], ir_version=9)
s = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
assert float(s.run(None, {'x': np.ones(1, np.float32)})[0][0]) == 1.0
"""


def test_onnxruntime_writes_nothing_to_the_users_home(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORT_")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"))
    r = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written
