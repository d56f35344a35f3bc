"""The lexicon layer: regular expressions from ``lexicon.yaml`` (data, versioned), for risk and for replies.

Fast (microseconds a text) and dependency-free, so it is the first net everywhere and the only one of the core
install. ``ignore`` spans (idioms, someone else's death, talk *about* a topic) are blanked before matching.
"""

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import yaml

from socialsim.safety.kinds import RISK_KINDS, RiskKind

REPLY_KINDS = ("ask_safety", "crisis_line", "emergency", "urgent_contact")


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(f"(?:{p})" for p in patterns) + r")\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """Curly quotes and runs of spaces made plain, so patterns need one spelling ("don't", not "don’t")."""
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").replace("\u2018", "'"))


@dataclass(frozen=True)
class Lexicon:
    risk: dict[str, re.Pattern[str]]
    ignore: re.Pattern[str]
    reply: dict[str, re.Pattern[str]]
    reply_ignore: re.Pattern[str]
    version: str  # hash of lexicon.yaml: part of the detector's fingerprint (cache keys)

    def kinds(self, text: str) -> list[RiskKind]:
        """Risk kinds whose patterns match ``text`` (ignored spans blanked first), in RISK_KINDS order."""
        text = self.ignore.sub(" ", normalise(text))
        return [kind for kind in RISK_KINDS if self.risk[kind].search(text)]  # type: ignore[misc]

    def reply_kinds(self, text: str) -> list[str]:
        """Which kinds of real guidance a reply gives (asks about safety, crisis line, emergency, urgent contact)."""
        text = self.reply_ignore.sub(" ", normalise(text))
        return [kind for kind in REPLY_KINDS if self.reply[kind].search(text)]


@cache
def lexicon() -> Lexicon:
    raw = files("socialsim.safety").joinpath("lexicon.yaml").read_bytes()
    data = yaml.safe_load(raw)
    return Lexicon(risk={kind: _alternation(data["risk"][kind]) for kind in RISK_KINDS},
                   ignore=_alternation(data["ignore"]),
                   reply={kind: _alternation(data["reply"][kind]) for kind in REPLY_KINDS},
                   reply_ignore=_alternation(data["reply_ignore"]),
                   version=hashlib.sha256(raw).hexdigest()[:12])
