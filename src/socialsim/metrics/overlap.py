"""Overlap metrics between generated and gold responses, as the thu-coai ESC evaluation code computes them.

BLEU-k: NLTK ``corpus_bleu`` with uniform weights over 1..k and ``SmoothingFunction().method3``, x100.
ROUGE-L: LCS F-measure with beta = 1.2 per response (the pycocoevalcap formula), averaged, x100.
Both take token lists from :func:`socialsim.metrics.tokenize.tokens`.
"""

from collections.abc import Sequence

from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

ROUGE_BETA = 1.2


def bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], k: int) -> float:
    """Corpus BLEU-k (one reference per hypothesis), x100. 0 when no hypothesis token matches."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return 0.0
    weights = tuple(1.0 / k for _ in range(k))
    score = corpus_bleu([[list(r)] for r in references], [list(h) for h in hypotheses], weights=weights,
                        smoothing_function=SmoothingFunction().method3)
    return 100.0 * float(score)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l_pair(hypothesis: Sequence[str], reference: Sequence[str], beta: float = ROUGE_BETA) -> float:
    """ROUGE-L F-measure of one response in [0, 1]: ((1 + b^2) P R) / (R + b^2 P); 0 if P or R is 0."""
    if not hypothesis or not reference:
        return 0.0
    lcs = lcs_length(hypothesis, reference)
    precision, recall = lcs / len(hypothesis), lcs / len(reference)
    if precision == 0 or recall == 0:
        return 0.0
    return ((1 + beta**2) * precision * recall) / (recall + beta**2 * precision)


def rouge_l(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """Mean per-response ROUGE-L, x100."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return 0.0
    return 100.0 * sum(rouge_l_pair(h, r) for h, r in zip(hypotheses, references, strict=True)) / len(hypotheses)
