"""Safe loading, checked over every .py file of the repository: no ``torch.load`` without
``weights_only=True``, no pickle (or its relatives), no unsafe YAML, no ``np.load(allow_pickle=True)``;
TensorRT engines are deserialised only from the local, sealed engine cache."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".venv", "venv", ".git", "build", "dist", "__pycache__", ".eggs", "node_modules"}
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal", "jsonpickle"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}
ALLOWED = {"tests/realtime/test_reliability_models.py": {"import pickle"}}  # builds a hostile file on purpose


def repo_py_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if not SKIP.intersection(p.relative_to(ROOT).parts))


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return "?"


def _kw(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def problems(source: str) -> list[str]:
    """Unsafe loading in one module's source, as 'line: what' strings."""
    out = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            out += [f"{line}: import {a.name}" for a in node.names if a.name.split(".")[0] in PICKLE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLE_MODULES:
            out.append(f"{line}: from {node.module} import")
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            short = name.rsplit(".", 2)[-2:] if "." in name else [name]
            if short == ["torch", "load"] or name.endswith("torch.load"):
                if not _is_const(_kw(node, "weights_only"), True):
                    out.append(f"{line}: torch.load without weights_only=True")
            elif name.endswith("jit.load"):
                out.append(f"{line}: torch.jit.load (runs code from the file)")
            elif name.endswith(("yaml.load", "yaml.load_all")):
                loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if loader is None or _name(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                    out.append(f"{line}: yaml.load without a safe Loader")
            elif name.endswith(("yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all")):
                out.append(f"{line}: {name}")
            elif name.endswith(("np.load", "numpy.load")) and _is_const(_kw(node, "allow_pickle"), True):
                out.append(f"{line}: np.load(allow_pickle=True)")
            elif name.endswith(("pd.read_pickle", "pandas.read_pickle")):
                out.append(f"{line}: read_pickle")
    return out


def test_scanner_catches_every_pattern():
    tl = "torch." + "load("  # spelled apart, so that text searches for unsafe loading do not hit this test
    bad = ("import pickle\nfrom dill import loads\nimport torch, yaml, numpy as np\n"
           f"{tl}'m.pt')\n{tl}'m.pt', weights_only=False)\ntorch.jit.load('m.pt')\n"
           "yaml.load(s)\nyaml.load(s, Loader=yaml.Loader)\nyaml.unsafe_load(s)\nnp.load('a.npy', allow_pickle=True)\n")
    assert len(problems(bad)) == 9  # every line but the plain imports
    good = (f"import torch, yaml, numpy as np\n{tl}'m.pt', weights_only=True)\n"
            "yaml.safe_load(s)\nyaml.load(s, Loader=yaml.SafeLoader)\nnp.load('a.npy')\n"
            f"np.load('a.npz', allow_pickle=False)\ns = '{tl}x)'\n")
    assert problems(good) == []


def test_no_unsafe_loading_anywhere_in_the_repository():
    files = repo_py_files()
    assert len(files) > 30 and any(p.name == "pipeline.py" for p in files)
    found = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        allowed = ALLOWED.get(rel, set())
        found += [f"{rel}:{p}" for p in problems(path.read_text(encoding="utf-8"))
                  if p.split(": ", 1)[1] not in allowed]
    assert found == [], "unsafe loading:\n" + "\n".join(found)


def test_tensorrt_engines_come_only_from_the_sealed_local_cache():
    """Every place that deserialises an engine gets its path from ``ensure_engines`` (the local cache
    that builds engines itself and trusts only engines sealed with this machine's secret)."""
    sites = []
    for path in repo_py_files():
        text = path.read_text(encoding="utf-8")
        if "deserialize_cuda_engine" in text and not path.name.startswith("test_"):
            sites.append(path.relative_to(ROOT).as_posix())
            assert "ensure_engines(" in text or "get_or_build(" in text, path
    assert sites == ["engines/runtime_trt.py"], sites
    trt_build = (ROOT / "engines" / "trt_build.py").read_text()
    assert "get_or_build(" in trt_build and "urllib" not in trt_build and "requests" not in trt_build
