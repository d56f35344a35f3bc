"""Crisis safety net shared by every stage: risk detection in seeker text and a check that replies address it.

The persona bank flags risky profiles, the supporter must address safety on a crisis turn (checked, and a safe
reply is substituted when a model fails to), the corpus filters drop unaddressed crisis turns and the chatbot
answers crisis turns with resources. Patterns live in ``lexicon.yaml`` (data, versioned); the safe reply in
``prompts/safety/crisis_reply.j2``.
"""

import re
from functools import cache
from importlib.resources import files

import yaml

from socialsim.prompts import render
from socialsim.safety.kinds import RiskKind


@cache
def _lexicon() -> tuple[dict[str, re.Pattern[str]], re.Pattern[str]]:
    data = yaml.safe_load(files("socialsim.safety").joinpath("lexicon.yaml").read_text(encoding="utf-8"))
    risk = {kind: re.compile(r"\b(" + "|".join(pats) + r")\b", re.IGNORECASE) for kind, pats in data["risk"].items()}
    safe = re.compile(r"\b(" + "|".join(data["safe_reply"]) + r")\b", re.IGNORECASE)
    return risk, safe


def detect_risk(text: str) -> list[RiskKind]:
    """Kinds of crisis content in ``text`` (empty when none), in a stable order."""
    risk, _ = _lexicon()
    return [kind for kind, pattern in risk.items() if pattern.search(text)]  # type: ignore[misc]


def addresses_safety(text: str) -> bool:
    """Whether a supporter reply (or its reasoning) points the seeker to immediate help or checks their safety."""
    _, safe = _lexicon()
    return bool(safe.search(text))


def crisis_reasoning(kinds: list[str]) -> dict[str, str]:
    """The safety net's own reasoning (situation, thought, action, strategy reason) for a substituted reply."""
    data = yaml.safe_load(files("socialsim.safety").joinpath("crisis_reasoning.yaml").read_text(encoding="utf-8"))
    named = ", ".join(kind.replace("_", " ") for kind in kinds) or "crisis content"
    return {key: str(value).format(kinds=named) for key, value in data.items()}


def crisis_reply() -> str:
    """The reply substituted when a model fails to address a crisis turn."""
    return render("safety/crisis_reply.j2")
