"""The risk model's fine-tuned encoder: all-MiniLM-L6-v2 adapted to our probe set with LoRA, plus a linear head.

A frozen sentence embedding places "I took my prescription to the pharmacy" near "I took all my pills"; tuning the
encoder itself on the train split moves them apart. Only the low-rank weight updates (LoRA, trained with ``peft``)
and the head are shipped (1.2 MB of the 3.7 MB ``risk_model.npz``); at load they are added into a private copy of the
base encoder, so scoring needs no ``peft``, and costs one encoder pass, as the frozen embedding did.
"""

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from socialsim.embeddings import embed, encoder

LOGIT_SCALE = 20.0  # the head sees cosine-scaled embeddings (unit length) times this


@dataclass
class TuningOptions:
    rank: int = 16
    epochs: int = 3
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed: int = 16
    targets: tuple[str, ...] = ("query", "key", "value", "dense")  # every linear layer of the BERT blocks


@dataclass
class TunedEncoder:
    """LoRA updates (``delta[name] = (a, b)``: the module's weight gains ``b @ a``) and a softmax head."""

    deltas: dict[str, tuple[np.ndarray, np.ndarray]]
    head_weights: np.ndarray  # (384, classes), LOGIT_SCALE folded in
    head_bias: np.ndarray

    def __post_init__(self) -> None:
        self._model: Any = None

    def model(self) -> Any:
        """A copy of the base encoder with the updates merged (made once)."""
        if self._model is None:
            import torch

            model = copy.deepcopy(encoder())
            modules = dict(model[0].auto_model.named_modules())
            with torch.no_grad():
                for name, (a, b) in self.deltas.items():
                    weight = modules[name].weight
                    weight += torch.from_numpy(b.astype(np.float32) @ a.astype(np.float32)).to(weight.dtype)
            self._model = model.eval()
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return embed(texts, model=self.model())

    def head(self, vectors: np.ndarray) -> np.ndarray:
        from scipy.special import softmax

        return softmax(vectors.astype(np.float64) @ self.head_weights + self.head_bias, axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"tuned.head.weights": self.head_weights.astype(np.float32),
               "tuned.head.bias": self.head_bias.astype(np.float32),
               "tuned.names": np.array(sorted(self.deltas))}
        for i, name in enumerate(sorted(self.deltas)):
            a, b = self.deltas[name]
            out[f"tuned.a.{i}"], out[f"tuned.b.{i}"] = a.astype(np.float16), b.astype(np.float16)
        return out

    @classmethod
    def from_arrays(cls, data: Any) -> "TunedEncoder | None":
        if "tuned.names" not in data:
            return None
        deltas = {str(name): (data[f"tuned.a.{i}"], data[f"tuned.b.{i}"]) for i, name in enumerate(data["tuned.names"])}
        return cls(deltas, data["tuned.head.weights"].astype(np.float64), data["tuned.head.bias"].astype(np.float64))


def tune(texts: Sequence[str], y: np.ndarray, n_classes: int, options: TuningOptions,
         log: Callable[[str], None] = print) -> TunedEncoder:
    """Fine-tune a copy of the encoder (LoRA, class-balanced cross-entropy, AdamW with a one-cycle schedule) and
    return its updates and head. Deterministic for a seed on one machine. Needs ``peft`` (the ``[train]`` extra)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(options.seed)
    model = copy.deepcopy(encoder())
    transformer = model[0]
    head = torch.nn.Linear(transformer.auto_model.config.hidden_size, n_classes)
    lora = get_peft_model(transformer.auto_model, LoraConfig(
        r=options.rank, lora_alpha=2 * options.rank, lora_dropout=0.1, target_modules=list(options.targets)))
    transformer.auto_model = lora
    params = [p for p in lora.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=options.learning_rate, weight_decay=0.01)
    steps = options.epochs * -(-len(y) // options.batch_size)  # _batches gives ceil(n / size) per epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=options.learning_rate, total_steps=steps,
                                                   pct_start=0.1)
    weight = torch.tensor(len(y) / (n_classes * np.bincount(y, minlength=n_classes).clip(min=1)),
                          dtype=torch.float32)
    order = np.random.default_rng(options.seed)
    model.train()
    for epoch in range(options.epochs):
        total = 0.0
        for idx in _batches(texts, order, options.batch_size):
            features = transformer.tokenize([texts[i] for i in idx])
            vectors = torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)
            loss = torch.nn.functional.cross_entropy(head(vectors * LOGIT_SCALE), torch.from_numpy(y[idx]),
                                                     weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        log(f"tuning: epoch {epoch + 1}/{options.epochs}, loss {total / len(y):.4f}")
    deltas = {}
    for name, module in lora.base_model.model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            a = module.lora_A["default"].weight.detach().numpy()
            b = module.lora_B["default"].weight.detach().numpy() * module.scaling["default"]
            deltas[name] = (a.copy(), b.copy())
    return TunedEncoder(deltas, head.weight.detach().numpy().T.astype(np.float64) * LOGIT_SCALE,
                        head.bias.detach().numpy().astype(np.float64))


def _batches(texts: Sequence[str], rng: np.random.Generator, size: int) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (each pool of 8 batches sorted by length), so that a batch of short
    messages is not padded to one long turn's length: about 3 times faster here than plain shuffling."""
    perm = rng.permutation(len(texts))
    batches = []
    for start in range(0, len(perm), 8 * size):
        pool = sorted(perm[start:start + 8 * size], key=lambda i: len(texts[i]))
        batches += [np.array(pool[i:i + size]) for i in range(0, len(pool), size)]
    return [batches[i] for i in rng.permutation(len(batches))]
