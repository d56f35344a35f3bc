"""socialsim: simulate emotional support conversations, audit the corpus, train and evaluate a chatbot.

Pipeline (one package per stage): persona bank -> simulation -> corpus -> evaluation -> training.
The shared LLM layer lives in :mod:`socialsim.llm`; the CLI in :mod:`socialsim.cli` only wraps the Python API.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("socialsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"
