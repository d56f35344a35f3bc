"""All response metrics of a system at once: the ESC-literature set plus sacrebleu, from plain strings.

Used by ``socialsim eval-chatbot`` (with the perplexity it adds) and ``socialsim score`` (any system's output).
"""

from collections.abc import Sequence
from pathlib import Path

import sacrebleu

from socialsim.corpus.jsonl import iter_jsonl
from socialsim.errors import InputFileError
from socialsim.metrics.distinct import distinct_n
from socialsim.metrics.overlap import bleu, rouge_l
from socialsim.metrics.tokenize import tokens

# Display order and meaning of every key score_responses returns (perplexity is added by the evaluator).
METRICS: dict[str, str] = {
    "n": "responses scored",
    "bleu-1": "NLTK corpus BLEU-1, method3 smoothing, x100",
    "bleu-2": "NLTK corpus BLEU-2 (uniform 1..2), method3 smoothing, x100",
    "bleu-3": "NLTK corpus BLEU-3 (uniform 1..3), method3 smoothing, x100",
    "bleu-4": "NLTK corpus BLEU-4 (uniform 1..4), method3 smoothing, x100",
    "rouge-l": "ROUGE-L F (beta 1.2), mean per response, x100",
    "distinct-1": "unique unigrams / all unigrams over all predictions, x100",
    "distinct-2": "unique bigrams / all bigrams over all predictions, x100",
    "mean-length": "mean prediction length in tokens",
    "ref-mean-length": "mean reference length in tokens",
    "sacrebleu": "sacrebleu corpus BLEU (13a tokenizer, case-sensitive, its own smoothing), x100",
    "perplexity": "perplexity of the gold responses under the model (exp of mean token NLL)",
}
TOKENIZER_NOTE = "tokens: lower-cased NLTK Treebank word tokenizer (socialsim.metrics.tokenize.tokens)"


def score_responses(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """BLEU-1..4, ROUGE-L, Distinct-1/2, mean lengths and sacrebleu BLEU of predictions against one reference."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    hyp = [tokens(p) for p in predictions]
    ref = [tokens(r) for r in references]
    n = len(hyp)
    scores: dict[str, float] = {"n": float(n)}
    for k in range(1, 5):
        scores[f"bleu-{k}"] = bleu(hyp, ref, k)
    scores["rouge-l"] = rouge_l(hyp, ref)
    scores["distinct-1"] = distinct_n(hyp, 1)
    scores["distinct-2"] = distinct_n(hyp, 2)
    scores["mean-length"] = sum(map(len, hyp)) / n if n else 0.0
    scores["ref-mean-length"] = sum(map(len, ref)) / n if n else 0.0
    scores["sacrebleu"] = float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score) if n else 0.0
    return scores


def format_table(rows: dict[str, dict[str, float]], keys: Sequence[str] | None = None) -> str:
    """A plain-text table: one row per system, one column per metric (missing values shown as '-')."""
    keys = list(keys or [k for k in METRICS if any(k in r for r in rows.values())])
    name_width = max([len("system"), *(len(name) for name in rows)])
    widths = [max(len(k), 7) for k in keys]
    lines = ["  ".join(["system".ljust(name_width), *(k.rjust(w) for k, w in zip(keys, widths, strict=True))])]
    for name, row in rows.items():
        cells = []
        for key, width in zip(keys, widths, strict=True):
            value = row.get(key)
            text = "-" if value is None else (f"{int(value)}" if key == "n" else f"{value:.2f}")
            cells.append(text.rjust(width))
        lines.append("  ".join([name.ljust(name_width), *cells]))
    return "\n".join(lines)


def read_predictions(path: str | Path) -> tuple[list[str], list[str]]:
    """(predictions, references) of a JSONL file with one ``{"prediction", "reference", "context"?}`` per line."""
    predictions, references = [], []
    for number, record in iter_jsonl(path):
        for key in ("prediction", "reference"):
            if not isinstance(record.get(key), str):
                raise InputFileError(str(path), f"missing or non-string {key!r}", number, 1,
                                     'each line needs {"prediction": "...", "reference": "..."}')
        predictions.append(record["prediction"])
        references.append(record["reference"])
    if not predictions:
        raise InputFileError(str(path), "no predictions to score")
    return predictions, references
