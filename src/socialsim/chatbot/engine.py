"""A loaded local chatbot (transformers model + tokenizer): batched generation, streaming, gold-response NLL."""

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from socialsim.chatbot.config import GenerationConfig
from socialsim.chatbot.dataset import Example
from socialsim.chatbot.device import Runtime
from socialsim.chatbot.model import ModelSource, load_model
from socialsim.llm.types import Message

NLL_BATCH = 16  # rows per gold-NLL forward pass: its logits (rows x length x vocabulary, in fp32) are the big tensor


@dataclass
class NLL:
    total: float = 0.0
    tokens: int = 0

    def __add__(self, other: "NLL") -> "NLL":
        return NLL(self.total + other.total, self.tokens + other.tokens)

    @property
    def perplexity(self) -> float:
        return math.exp(self.total / self.tokens) if self.tokens else float("nan")


class LocalChatbot:
    """Greedy by default, so evaluation is deterministic; ``generation`` holds every decoding setting. Runs on the
    model's device (``runtime``: where :meth:`load` put it)."""

    def __init__(self, model: Any, tokenizer: Any, generation: GenerationConfig, source: ModelSource | None = None,
                 runtime: Runtime | None = None):
        self.model, self.tokenizer, self.generation, self.source = model.eval(), tokenizer, generation, source
        self.runtime = runtime or Runtime("cpu", "fp32")
        self.stop_ids = sorted({i for i in (tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"))
                                if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id})

    @classmethod
    def load(cls, source: ModelSource, generation: GenerationConfig, fraction: float = 0.8,
             runtime: Runtime | None = None) -> "LocalChatbot":
        model, tokenizer = load_model(source, fraction=fraction, runtime=runtime)
        return cls(model, tokenizer, generation, source, runtime)

    @property
    def device(self) -> Any:
        return self.model.device

    def _prompt_text(self, prompt: Sequence[Message]) -> str:
        return self.tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)

    def _generate_kwargs(self) -> dict[str, Any]:
        g = self.generation
        kwargs: dict[str, Any] = {"max_new_tokens": g.max_new_tokens, "do_sample": g.do_sample,
                                  "repetition_penalty": g.repetition_penalty, "eos_token_id": self.stop_ids,
                                  "pad_token_id": self.tokenizer.pad_token_id}
        if g.no_repeat_ngram_size:
            kwargs["no_repeat_ngram_size"] = g.no_repeat_ngram_size
        if g.do_sample:
            kwargs.update(temperature=g.temperature, top_p=g.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs

    def generate(self, prompts: Sequence[Sequence[Message]],
                 on_batch: Callable[[int, int], None] | None = None) -> list[tuple[str, int]]:
        """(text, generated tokens) per prompt. Prompts are batched by length (left padding) to waste little."""
        import torch
        from transformers import set_seed

        set_seed(self.generation.seed)
        texts = [self._prompt_text(p) for p in prompts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: list[tuple[str, int]] = [("", 0)] * len(texts)
        self.tokenizer.padding_side = "left"
        size = self.generation.batch_size
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            enc = self.tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(**enc, **self._generate_kwargs())
            new = out[:, enc["input_ids"].shape[1]:]
            generated = 0
            for row, i in zip(new.tolist(), batch, strict=True):
                ids = [t for t in row if t != self.tokenizer.pad_token_id and t not in self.stop_ids]
                results[i] = (self.tokenizer.decode(ids, skip_special_tokens=True).strip(), len(ids))
                generated += len(ids)
            if on_batch:
                on_batch(len(batch), generated)
        return results

    def stream(self, prompt: Sequence[Message]) -> Iterator[str]:
        """Yield text pieces of one reply as they are generated."""
        from transformers import TextIteratorStreamer

        enc = self.tokenizer([self._prompt_text(prompt)], return_tensors="pt", add_special_tokens=False).to(self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        worker = threading.Thread(target=self.model.generate,
                                  kwargs={**enc, **self._generate_kwargs(), "streamer": streamer}, daemon=True)
        worker.start()
        yield from streamer
        worker.join()

    def gold_nll(self, examples: Sequence[Example], on_batch: Callable[[int], None] | None = None) -> list[NLL]:
        """Negative log-likelihood of each example's target (the assistant message and its end token), in order."""
        import torch

        rows: list[tuple[list[int], int]] = []  # (ids, number of prompt tokens)
        for ex in examples:
            prompt_ids = self.tokenizer.apply_chat_template(ex.prompt, add_generation_prompt=True, tokenize=True,
                                                            return_dict=False)
            full_ids = self.tokenizer.apply_chat_template(ex.messages, tokenize=True, return_dict=False)
            rows.append((list(full_ids), len(prompt_ids)))
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
        result = [NLL() for _ in rows]
        pad = self.tokenizer.pad_token_id
        size = min(self.generation.batch_size, NLL_BATCH)
        for start in range(0, len(order), size):
            chosen = order[start:start + size]
            batch = [rows[i] for i in chosen]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (ids, n_prompt) in enumerate(batch):
                input_ids[r, :len(ids)] = torch.tensor(ids)
                labels[r, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])
                attention[r, :len(ids)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=input_ids.to(self.device),
                                    attention_mask=attention.to(self.device)).logits
            shift_logits, shift_labels = logits[:, :-1].float(), labels[:, 1:].to(self.device)
            loss = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels, ignore_index=-100,
                                                     reduction="none")
            for r, i in enumerate(chosen):
                result[i] = NLL(float(loss[r].sum()), int((shift_labels[r] != -100).sum()))
            if on_batch:
                on_batch(len(batch))
        return result
