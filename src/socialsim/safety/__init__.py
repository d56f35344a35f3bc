"""Crisis safety net shared by every stage: risk detection in seeker text and a check that replies address it.

Layers (``detector.py``): the lexicon (``lexicon.yaml``, always on), a learned classifier on n-grams and a tuned
MiniLM encoder (``learned.py``, ``tuned.py``, with ``socialsim[embed]``) and an optional LLM (the judge role,
async callers only). The persona bank flags risky profiles, the supporter is told to address safety from the turn
a risk is disclosed (and a safe reply is substituted when a model fails to), the corpus filters and reports count
unaddressed crisis turns and the chatbot answers crisis turns with resources (``prompts/safety/crisis_reply.j2``,
lines from the config).

Surfaces call :func:`configure` with the root config's ``safety`` section; stages that go over a corpus use
:func:`default_detector` (``safety.corpus_operating_point``, the lexicon alone by default) or are handed a
:class:`RiskDetector`. The functions for a text or a list of texts (:func:`detect_risk`, :func:`score_risk`,
:func:`addresses_safety`) use :func:`live_detector`, the chat's: every layer installed, thresholds set for recall.
This package imports no stage.
"""

from functools import cache
from importlib.resources import files

import yaml

from socialsim.prompts import render
from socialsim.safety.config import SafetyConfig
from socialsim.safety.detector import ReplyResult, RiskDetector, RiskResult
from socialsim.safety.kinds import RISK_KINDS, RiskKind

__all__ = ["RISK_KINDS", "ReplyResult", "RiskDetector", "RiskKind", "RiskResult", "SafetyConfig",
           "addresses_safety", "configure", "crisis_reasoning", "crisis_reply", "default_detector", "detect_risk",
           "live_detector", "score_risk"]

_state: dict[str, object] = {"config": SafetyConfig(), "detector": None, "live": None}


def configure(config: SafetyConfig) -> None:
    """Make ``config`` the process's safety settings (the surfaces call this with the root config's section); the
    next :func:`default_detector` is a new one (empty memo; the SQLite cache persists)."""
    _state.update(config=config, detector=None, live=None)


def current_config() -> SafetyConfig:
    return _state["config"]  # type: ignore[return-value]


def default_detector() -> RiskDetector:
    """The process's detector for corpus uses (``safety.corpus_operating_point``), built on first use from the
    configured section (memo and cache shared)."""
    if _state["detector"] is None:
        _state["detector"] = RiskDetector.from_config(current_config())
    return _state["detector"]  # type: ignore[return-value]


def live_detector() -> RiskDetector:
    """The process's detector for the live chat (``safety.operating_point``, recall by default: a real person is
    on the other side, so a false alarm costs less than a miss)."""
    if _state["live"] is None:
        _state["live"] = RiskDetector.from_config(current_config(), live=True)
    return _state["live"]  # type: ignore[return-value]


def detect_risk(text: str) -> list[RiskKind]:
    """Kinds of crisis content in ``text`` (empty when none), in a stable order; the live detector's (the learned
    layer at the recall point, when installed)."""
    return live_detector().kinds(text)


def score_risk(texts: list[str]) -> list[RiskResult]:
    """Kinds, score and the layers that fired, for many texts at once (batched, cached; the live detector's)."""
    return live_detector().score(texts)


def addresses_safety(text: str) -> bool:
    """Whether a supporter reply gives real guidance: asks whether the person is safe, points to a crisis line or
    emergency services, or urges contact with a trusted person or professional now (the live detector's)."""
    return live_detector().addresses(text)


def crisis_reasoning(kinds: list[str]) -> dict[str, str]:
    """The safety net's own reasoning (situation, thought, action, strategy reason) for a substituted reply."""
    data = _reasoning()
    named = ", ".join(kind.replace("_", " ") for kind in kinds) or "crisis content"
    return {key: str(value).format(kinds=named) for key, value in data.items()}


@cache
def _reasoning() -> dict[str, str]:
    return yaml.safe_load(files("socialsim.safety").joinpath("crisis_reasoning.yaml").read_text(encoding="utf-8"))


def crisis_reply(resources: list[str] | None = None) -> str:
    """The reply substituted when a model fails to address a crisis turn: crisis lines of several countries (or
    the configured ones), and says they are examples."""
    return render("safety/crisis_reply.j2", resources=resources or current_config().resources)
