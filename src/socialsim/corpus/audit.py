"""The safety audit of a dialogue: which seeker turns the safety net flags, and whether the reply addressed them.

Shared by the ``unaddressed_crisis`` filter, the report's safety table and the web index, so all three count the
same thing. A reply addresses a crisis turn when its text (never its hidden reasoning: the seeker does not see
that) gives real guidance; see :meth:`socialsim.safety.RiskDetector.replies`.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import merge_consecutive
from socialsim.safety import RiskDetector, default_detector


@dataclass(frozen=True)
class CrisisTurn:
    """A seeker turn the safety net flags, and whether the supporter's next turn addressed it."""

    turn: int  # 1-based, among speaker turns (consecutive utterances of one speaker merged)
    kinds: tuple[str, ...]
    answered: bool  # a supporter turn follows (False: the dialogue ends there)
    addressed: bool  # that turn's text (not its hidden reasoning) gives real guidance


def crisis_turns(d: Dialogue, detector: RiskDetector | None = None) -> list[CrisisTurn]:
    """Every flagged seeker turn of ``d`` with the verdict on the reply that follows it."""
    detector = detector or default_detector()
    turns = merge_consecutive(d).turns
    seeker = [i for i, t in enumerate(turns) if t.speaker == "seeker"]
    flagged = [(i, r) for i, r in zip(seeker, detector.score([turns[i].text for i in seeker]), strict=True)
               if r.flagged]
    out = []
    for i, result in flagged:
        reply = turns[i + 1] if i + 1 < len(turns) else None
        addressed = reply is not None and detector.replies([reply.text])[0].addresses
        out.append(CrisisTurn(i + 1, result.kinds, reply is not None, addressed))
    return out


def prime_safety(dialogues: Iterable[Dialogue], detector: RiskDetector | None = None) -> None:
    """Run the detector once, batched, over every seeker turn and every reply to a flagged one, so the per-dialogue
    checks that follow read memoised (or cached) results instead of embedding texts one by one."""
    detector = detector or default_detector()
    merged = [merge_consecutive(d).turns for d in dialogues]
    texts = [t.text for turns in merged for t in turns if t.speaker == "seeker"]
    risky = {t for t, r in zip(texts, detector.score(texts), strict=True) if r.flagged}
    detector.replies([turns[i + 1].text for turns in merged for i, t in enumerate(turns[:-1])
                      if t.speaker == "seeker" and t.text in risky])
