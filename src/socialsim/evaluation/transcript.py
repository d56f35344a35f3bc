"""Dialogues as judge-readable transcripts that fit a small model's context window.

Turns are merged per speaker and each is capped; when the whole is still too long, the first and last turns are
kept (how a conversation opens and resolves matters most) and the middle is replaced by a marked gap.
"""

from dataclasses import dataclass

from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.readers import merge_consecutive


@dataclass(frozen=True)
class Transcript:
    text: str
    truncated: bool  # the middle was left out or a turn was cut


def _line(turn: Turn, max_turn_words: int) -> tuple[str, bool]:
    words = turn.text.split()
    cut = len(words) > max_turn_words
    text = " ".join(words[:max_turn_words]) + (" [...]" if cut else "")
    label = "Seeker" if turn.speaker == "seeker" else (
        f"Supporter ({turn.strategy})" if turn.strategy else "Supporter")
    return f"{label}: {text}", cut


def transcript(dialogue: Dialogue, max_words: int, max_turn_words: int) -> Transcript:
    lines, cuts = zip(*(_line(t, max_turn_words) for t in merge_consecutive(dialogue).turns), strict=True) \
        if dialogue.turns else ((), ())
    sizes = [len(line.split()) for line in lines]
    if sum(sizes) <= max_words:
        return Transcript("\n".join(lines), any(cuts))
    head, tail, used = 0, len(lines), 0
    # Alternate between the start and the end until the budget is spent.
    while head < tail:
        take_head = head <= len(lines) - tail
        size = sizes[head] if take_head else sizes[tail - 1]
        if used + size > max_words:
            break
        used += size
        if take_head:
            head += 1
        else:
            tail -= 1
    gap = f"[... {tail - head} turns left out ...]"
    return Transcript("\n".join([*lines[:head], gap, *lines[tail:]]), True)


def profile_text(dialogue: Dialogue) -> str | None:
    p = dialogue.profile
    if p is None:
        return None
    return (f"{p.gender}, {p.age}, {p.occupation}; personality: {p.personality.as_text()}; topic: {p.topic}; "
            f"situation: {p.situation}")
