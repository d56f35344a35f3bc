"""The one way dialogues of two corpora are paired for comparison (by the judge and by human A/B tasks)."""

import random
from collections import defaultdict
from collections.abc import Iterable

from socialsim.corpus.dialogue import Dialogue


def topic_of(dialogue: Dialogue) -> str:
    """The dialogue's topic (or its profile's), case-folded; "" when it has none."""
    topic = dialogue.topic or (dialogue.profile.topic if dialogue.profile else "") or ""
    return " ".join(topic.lower().split())


def pair_by_topic(xs: Iterable[Dialogue], ys: Iterable[Dialogue], *, limit: int | None = None,
                  any_topic: bool = False, seed: int | None = None) -> tuple[list[tuple[Dialogue, Dialogue]], int]:
    """Pair each x (in order, at most ``limit`` pairs) with an unused y of the same topic.

    With ``any_topic``, the xs whose topic had no y left are then paired with the remaining ys. The ys of a topic
    are drawn in corpus order, or at random with ``seed``. Returns (pairs, xs left unpaired, limit aside).
    """
    pool: dict[str, list[Dialogue]] = defaultdict(list)
    ys = list(ys)
    if seed is not None:
        random.Random(seed).shuffle(ys)
    for y in ys:
        pool[topic_of(y)].append(y)
    pairs: list[tuple[Dialogue, Dialogue]] = []
    left: list[Dialogue] = []
    for x in xs:  # first every same-topic pair, so a cross-topic pair never takes a y a later x could match
        same = pool.get(topic_of(x)) if topic_of(x) else None
        if same and (limit is None or len(pairs) < limit):
            pairs.append((x, same.pop(0)))
        else:
            left.append(x)
    if any_topic:
        rest = [y for bucket in pool.values() for y in bucket]
        room = len(left) if limit is None else max(0, limit - len(pairs))
        cross = list(zip(left[:room], rest, strict=False))
        pairs += cross
        left = left[len(cross):]
    return pairs, len(left)
