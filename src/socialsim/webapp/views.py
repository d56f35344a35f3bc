"""What the templates show, computed from a :class:`Dialogue`: disclosure per turn, risk, intensity curve.

Only plain data leaves this module; the templates escape every string (autoescaping is on everywhere).
"""

from dataclasses import dataclass, field

from socialsim.corpus.dialogue import STRATEGIES, Dialogue, Reasoning
from socialsim.corpus.profile import DISCLOSABLE_FIELDS, field_label
from socialsim.safety import default_detector


def strategy_class(strategy: str | None) -> str:
    """CSS class of a strategy chip: one colour per ESConv strategy, grey for anything else."""
    return f"s{STRATEGIES.index(strategy)}" if strategy in STRATEGIES else "sx"


def field_title(name: str) -> str:
    """A field or dimension name as a heading: ``event_time`` -> ``Event time``."""
    return field_label(name).capitalize()


@dataclass
class TurnView:
    number: int
    speaker: str
    text: str
    intensity: int | None = None
    disclosed: list[str] = field(default_factory=list)  # cumulative, as recorded
    newly_disclosed: list[str] = field(default_factory=list)
    risk: list[str] = field(default_factory=list)
    risk_layers: list[str] = field(default_factory=list)
    safety: str | None = None  # on a reply to a flagged seeker turn: "addressed" or "unaddressed"
    strategy: str | None = None
    strategy_class: str = "sx"
    reasoning: Reasoning | None = None


@dataclass
class DialogueView:
    dialogue: Dialogue
    turns: list[TurnView]
    profile: list[tuple[str, str, bool]]  # (label, value, disclosed by the end)
    intensity_points: str  # SVG polyline points, "" when the corpus records no intensity
    intensity_values: list[tuple[int, int]]  # (turn number, intensity)
    has_disclosure: bool


def dialogue_view(dialogue: Dialogue, width: int = 280, height: int = 70) -> DialogueView:
    detector = default_detector()
    seeker = [t.text for t in dialogue.turns if t.speaker == "seeker"]
    risk = dict(zip(seeker, detector.score(seeker), strict=True))
    turns, seen = [], set()
    crisis = False  # the last seeker utterance was flagged
    for number, turn in enumerate(dialogue.turns, start=1):
        view = TurnView(number, turn.speaker, turn.text)
        if turn.speaker == "seeker":
            view.intensity = turn.intensity
            view.disclosed = list(turn.disclosed or [])
            view.newly_disclosed = [f for f in view.disclosed if f not in seen]
            seen.update(view.disclosed)
            view.risk, view.risk_layers = list(risk[turn.text].kinds), list(risk[turn.text].layers)
            crisis = risk[turn.text].flagged
        else:
            view.strategy, view.reasoning = turn.strategy, turn.reasoning
            if crisis:
                view.safety = "addressed" if detector.replies([turn.text])[0].addresses else "unaddressed"
            crisis = False
            view.strategy_class = strategy_class(turn.strategy)
        turns.append(view)
    profile: list[tuple[str, str, bool]] = []
    if dialogue.profile is not None:
        p = dialogue.profile
        names = {"Situation": "situation", "Event Time": "event_time", "Event Location": "event_location",
                 "Event Participants": "event_participants", "Event Description": "event_description",
                 "Emotional Experience Words": "emotional_experience_words",
                 "Coped Strategies and Effects": "coped_strategies_and_effects",
                 "Goals and Expectations": "goals_and_expectations"}
        for label, value in p.to_socialsim().items():
            key = names.get(label)
            profile.append((label, str(value), key in seen if key in DISCLOSABLE_FIELDS else False))
        profile.append(("Initial intensity", str(p.initial_intensity), False))
        if p.risk:
            profile.append(("Risk", ", ".join(p.risk), False))
        if p.flags:
            profile.append(("Flags", ", ".join(p.flags), False))
        profile.append(("Source", f"{p.source.source} #{p.source.record_id}", False))
    values = [(t.number, t.intensity) for t in turns if t.intensity is not None]
    points = ""
    if values:
        last = max(len(turns), 2)
        points = " ".join(f"{8 + (n - 1) * (width - 16) / (last - 1):.1f},{8 + (5 - v) * (height - 16) / 4:.1f}"
                          for n, v in values)
    return DialogueView(dialogue, turns, profile, points, values, bool(seen))
