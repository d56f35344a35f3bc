"""Dependencies point one way (docs/ARCHITECTURE in the team's notes, enforced here on every import, lazy ones too).

Layers, lowest first: base < engine < stages < surfaces. A package imports only its own layer or lower ones; a
stage may use an earlier stage of the pipeline (personas < simulation < evaluation < chatbot < scale), never a
later one; only the surfaces read the root config; the command line holds no logic of the web app's.
"""

import ast
import shutil
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

BASE = {"llm", "corpus", "safety", "metrics", "prompts", "errors", "extras", "embeddings", "__init__"}
ENGINE = {"engine"}
STAGES = ["personas", "simulation", "evaluation", "chatbot", "scale"]  # pipeline order
SURFACES = {"cli", "webapp", "__main__", "config", "api"}
ROOT_CONFIG = "config"


def _layer(unit: str) -> tuple[int, int]:
    """(layer, position in the pipeline for stages) of a top-level unit of the package."""
    if unit in BASE:
        return 0, 0
    if unit in ENGINE:
        return 1, 0
    if unit in STAGES:
        return 2, STAGES.index(unit)
    if unit in SURFACES:
        return 3, 0
    raise AssertionError(f"socialsim.{unit} belongs to no layer: add it to tests/test_architecture.py")


def _imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, imported socialsim module) of every import in a file, including those inside functions."""
    package = root.name
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == package]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == package:  # from socialsim import embeddings (a module) or __version__ (a name)
                found += [(node.lineno, f"{package}.{a.name}" if (root / a.name).is_dir() or
                           (root / f"{a.name}.py").is_file() else package) for a in node.names]
            elif node.module.split(".")[0] == package:
                found.append((node.lineno, node.module))
    return found


def violations(src: Path = SRC, package: str = "socialsim") -> list[str]:
    """Every import that breaks a rule, as 'file:line: why'."""
    root = src / package
    problems = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        unit = parts[0]
        layer, position = _layer(unit)
        for line, module in _imports(path, root):
            target = module.split(".")[1] if "." in module else "__init__"
            where = f"{path.relative_to(src)}:{line}"
            if target == unit:
                continue
            if target == ROOT_CONFIG and layer < 3:
                problems.append(f"{where}: only surfaces read the root config ({module})")
                continue
            target_layer, target_position = _layer(target)
            if target_layer > layer:
                problems.append(f"{where}: {unit} (layer {layer}) imports {module} from a higher layer")
            elif layer == target_layer == 2 and target_position > position:
                problems.append(f"{where}: stage {unit} imports {module} of a later stage")
            elif unit == "cli" and target == "webapp" and parts[-1] != "serve_cmd":
                problems.append(f"{where}: only `serve` may use the web app; shared logic belongs below it")
            elif unit == "webapp" and target == "cli":
                problems.append(f"{where}: the web app imports the command line")
    return problems


def test_every_import_points_down_the_layers():
    assert violations() == []


def test_a_planted_upward_import_is_caught(tmp_path):
    shutil.copytree(SRC / "socialsim", tmp_path / "socialsim")
    planted = {
        "llm/planted.py": "from socialsim.config import SocialsimConfig\n",
        "corpus/planted.py": "def later():\n    from socialsim.personas.build import build_bank\n",
        "simulation/planted.py": "import socialsim.chatbot.train\n",
        "personas/planted.py": "from socialsim import cli\n",
        "cli/planted.py": "from socialsim.webapp.app import build\n",
    }
    for name, code in planted.items():
        (tmp_path / "socialsim" / name).write_text(code)
    found = violations(tmp_path)
    for name in planted:
        assert any(v.startswith(f"socialsim/{name}:") for v in found), (name, found)
    assert len(found) == len(planted)
