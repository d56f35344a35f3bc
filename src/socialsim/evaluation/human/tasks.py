"""Creating a human evaluation task from indexed corpora: single dialogues to rate, or A/B pairs matched by topic
(:func:`socialsim.evaluation.pairing.pair_by_topic`, the same pairing the LLM judge uses)."""

import random

from socialsim.corpus.index import CorpusIndex
from socialsim.evaluation.human.store import AnnotationStore, Task
from socialsim.evaluation.pairing import pair_by_topic


def sample_task(store: AnnotationStore, index: CorpusIndex, name: str, a: int, b: int | None, n: int,
                dimensions: list[str], seed: int) -> Task:
    """A task sampled from indexed corpora: ``n`` single dialogues of corpus ``a``, or up to ``n`` A/B pairs of
    ``a`` and ``b``, matched by topic first (then any topic)."""
    rng = random.Random(seed)
    rows_a = index.rows(a)
    pick_a = rng.sample(rows_a, min(n, len(rows_a)))
    dialogues_a = [d for r, _, _ in pick_a if (d := index.read(a, r))]
    name_a = index.corpora[a].name
    if b is None:
        return store.create_task(name, dialogues_a, corpus_a=name_a, dimensions=dimensions, seed=seed)
    rows_b = index.rows(b)
    topics = {t for _, _, t in pick_a}
    pool_b = [r for r, _, t in rows_b if t in topics] or [r for r, _, _ in rows_b]
    pool_b = rng.sample(pool_b, min(len(pool_b), 5 * n))  # a topic-matched pool, read from the file by seeking
    dialogues_b = [d for r in pool_b if (d := index.read(b, r))]
    pairs, _ = pair_by_topic(dialogues_a, dialogues_b, limit=n, any_topic=True, seed=seed)
    return store.create_task(name, pairs, corpus_a=name_a, corpus_b=index.corpora[b].name,
                             dimensions=dimensions, seed=seed)
