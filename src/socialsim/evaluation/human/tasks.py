"""Creating a human evaluation task from indexed corpora: single dialogues to rate, or A/B pairs matched by topic
(:func:`socialsim.evaluation.pairing.pair_by_topic`, the same pairing the LLM judge uses).

In a pair both dialogues are shown with consecutive utterances of one speaker merged and cut to the same number of
turns, so that length and turn-taking do not tell an annotator which corpus is which. A task that gets fewer
items than asked for says why in its note.
"""

import random

from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.index import CorpusIndex
from socialsim.corpus.readers import merge_consecutive
from socialsim.evaluation.human.store import AnnotationStore, Task
from socialsim.evaluation.pairing import pair_by_topic, topic_of


def cut_pair(a: Dialogue, b: Dialogue) -> tuple[Dialogue, Dialogue]:
    """Both dialogues with consecutive utterances merged and cut to the turns of the shorter one; a cut dialogue
    records ``meta["shown_turns"]`` and ``meta["turns_in_corpus"]``."""
    a, b = merge_consecutive(a), merge_consecutive(b)
    keep = min(len(a.turns), len(b.turns))
    out = []
    for d in (a, b):
        if len(d.turns) > keep:
            d = d.model_copy(update={"turns": d.turns[:keep],
                                     "meta": {**d.meta, "shown_turns": keep, "turns_in_corpus": len(d.turns)}})
        out.append(d)
    return out[0], out[1]


def sample_task(store: AnnotationStore, index: CorpusIndex, name: str, a: int, b: int | None, n: int,
                dimensions: list[str], seed: int) -> Task:
    """A task sampled from indexed corpora: ``n`` single dialogues of corpus ``a``, or up to ``n`` A/B pairs of
    ``a`` and ``b``, matched by topic first (then any topic) and cut to equal length."""
    rng = random.Random(seed)
    rows_a = index.rows(a)
    pick_a = rng.sample(rows_a, min(n, len(rows_a)))
    dialogues_a = [d for r, _, _ in pick_a if (d := index.read(a, r))]
    label_a = index.corpora[a].name
    notes = []
    if b is None:
        if len(dialogues_a) < n:
            notes.append(f"{n} dialogues were asked for; {label_a} has only {len(rows_a)}.")
        return store.create_task(name, dialogues_a, corpus_a=label_a, dimensions=dimensions, seed=seed,
                                 note=" ".join(notes))
    label_b = index.corpora[b].name
    rows_b = index.rows(b)
    topics = {t for _, _, t in pick_a}
    same = [r for r, _, t in rows_b if t in topics]
    other = [r for r, _, t in rows_b if t not in topics]
    # Topic matches first, then other dialogues to pair what is left (read from the file by seeking).
    pool_b = rng.sample(same, min(len(same), 5 * n)) + rng.sample(other, min(len(other), n))
    dialogues_b = [d for r in pool_b if (d := index.read(b, r))]
    pairs, _ = pair_by_topic(dialogues_a, dialogues_b, limit=n, any_topic=True, seed=seed)
    if len(pairs) < n:
        smaller = min((len(rows_a), label_a), (len(rows_b), label_b))
        notes.append(f"{n} pairs were asked for; {len(pairs)} could be made: {smaller[1]} has only {smaller[0]} "
                     "dialogues.")
    matched = sum(topic_of(x) == topic_of(y) != "" for x, y in pairs)
    if matched < len(pairs):
        notes.append(f"{matched} of {len(pairs)} pairs share a topic; the others pair different topics.")
    pairs = [cut_pair(x, y) for x, y in pairs]
    cut = sum("shown_turns" in d.meta for pair in pairs for d in pair)
    if cut:
        notes.append(f"Both sides of each pair are shown with the same number of turns ({cut} dialogues cut).")
    return store.create_task(name, pairs, corpus_a=label_a, corpus_b=label_b, dimensions=dimensions, seed=seed,
                             note=" ".join(notes))
