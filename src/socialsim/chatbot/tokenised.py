"""Tokenised training data: built once per corpus, data options and tokenizer, cached on disk, read lazily.

Training on 100,000 dialogues must neither hold a million examples as Python objects nor tokenise the corpus
again for every run. The corpus is read one dialogue at a time. Each message is tokenised once, as its segment of
the chat template (``<|im_start|>user\\n...<|im_end|>\\n`` in ChatML), and appended to one token file; an example
(one supporter turn) is then three slices: the system prompt, a run of consecutive history messages of its
dialogue, and the reply's segment. The history is cut as :func:`socialsim.chatbot.dataset.fit_history` cuts it
(the oldest messages go first, to fit ``max_length``), so the examples are those of ``build_training_set``.

A cache entry ``CACHE/<key>/`` holds ``tokens.bin`` (the token ids), ``examples.npy`` (one row of ``COLUMNS`` per
example, memory-mapped) and ``meta.json``, written last: a folder without it is unfinished and is rebuilt. The key
is the sha256 of the corpus bytes, the data options that shape examples, the system prompt, the tokenizer
(vocabulary, merges, special tokens, chat template) and ``FORMAT_VERSION``; the sample of ``max_examples`` is
drawn when the data are used, so another sample size reuses the entry.

The segments are read off the tokenizer's own chat template (rendered around a sentinel message) and the first
``VERIFY`` examples are compared token for token with ``apply_chat_template``. A template that is not a
concatenation of per-message segments (one that folds the system prompt into the first user turn, say) is
detected there, and then every example is tokenised whole with ``apply_chat_template`` (slower, same cache).
"""

import hashlib
import json
import os
import random
import shutil
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from socialsim.chatbot.config import DatasetConfig
from socialsim.chatbot.dataset import (
    chat_token_counter,
    dialogue_examples,
    file_sha256,
    format_target,
    history_messages,
    in_validation,
    learnable_turns,
    recent_start,
    system_prompt,
)
from socialsim.corpus.dialogue import Dialogue
from socialsim.corpus.readers import merge_consecutive, read_corpus
from socialsim.errors import InputFileError
from socialsim.llm.types import Message

FORMAT_VERSION = 1
ENCODE_DIALOGUES = 256  # dialogues tokenised per call
VERIFY = 32  # examples compared with apply_chat_template before the per-message segments are trusted
COLUMNS = ("validation", "system", "context_start", "context_end", "target_start", "target_end", "prompt_tokens")
SPLIT, SYSTEM, C0, C1, T0, T1, PROMPT = range(len(COLUMNS))
_SENTINEL = "\u0000socialsim-sentinel\u0000"
_KEY_OPTIONS = ("include_strategy", "include_reasoning", "max_length", "max_history_turns", "validation_fraction",
                "split_seed")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "socialsim" / "chatbot-data"


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of what decides token ids: vocabulary, merges, normaliser, special tokens and chat template."""
    h = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    h.update(backend.to_str().encode() if backend is not None else
             json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    h.update(json.dumps([type(tokenizer).__name__, tokenizer.chat_template, tokenizer.pad_token,
                         tokenizer.eos_token, tokenizer.bos_token]).encode())
    return h.hexdigest()


class _NotSegmented(Exception):
    """The chat template is not a concatenation of per-message segments."""


@dataclass(frozen=True)
class Segments:
    """The chat template as text around each message: ``before[role] + content + after[role]``."""

    system_text: str
    before: dict[str, str]
    after: dict[str, str]
    generation_prompt: str

    @classmethod
    def probe(cls, tokenizer: Any, system: str) -> "Segments":
        def render(messages: list[Message], generation: bool = False) -> str:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

        head: list[Message] = [{"role": "system", "content": system}]
        base = render(head)
        before, after = {}, {}
        for role in ("user", "assistant"):
            text = render([*head, {"role": role, "content": _SENTINEL}])  # type: ignore[typeddict-item]
            if not text.startswith(base) or text.count(_SENTINEL) != 1:
                raise _NotSegmented
            before[role], after[role] = text[len(base):].split(_SENTINEL)
        generation = render(head, True)[len(base):]
        if not render(head, True).startswith(base) or generation != before["assistant"]:
            raise _NotSegmented
        return cls(base, before, after, generation)

    def text(self, role: str, content: str) -> str:
        return self.before[role] + content + self.after[role]


def _encoder(tokenizer: Any) -> Any:
    fast = getattr(tokenizer, "backend_tokenizer", None)  # the Rust tokenizer: one call per dialogue
    if fast is not None:
        return lambda texts: [e.ids for e in fast.encode_batch(texts, add_special_tokens=False)]
    return lambda texts: tokenizer(texts, add_special_tokens=False)["input_ids"]


class _TokenWriter:
    """Appends token ids to a file through a buffer; ``offset`` is the number of ids written so far."""

    def __init__(self, path: Path, dtype: Any) -> None:
        self.handle, self.dtype, self.offset = path.open("wb"), dtype, 0
        self.buffer: list[Sequence[int]] = []
        self.buffered = 0

    def write(self, ids: Sequence[int]) -> int:
        start = self.offset
        self.buffer.append(ids)
        self.offset += len(ids)
        self.buffered += len(ids)
        if self.buffered > 1 << 21:
            self.flush()
        return start

    def flush(self) -> None:
        if self.buffer:
            np.fromiter((i for ids in self.buffer for i in ids), dtype=self.dtype, count=self.buffered).tofile(
                self.handle)
            self.buffer, self.buffered = [], 0

    def close(self) -> None:
        self.flush()
        self.handle.close()


@dataclass
class _Counts:
    dialogues: int = 0
    examples: int = 0
    validation: int = 0
    truncated: int = 0  # oldest history messages dropped to fit max_length
    cut: int = 0  # still longer than max_length: the reply is cut at max_length in training
    dropped: int = 0  # the prompt alone fills max_length: no reply token left to learn from


class _Builder:
    def __init__(self, tokenizer: Any, options: DatasetConfig, folder: Path, system: str, segmented: bool) -> None:
        self.tokenizer, self.options, self.system = tokenizer, options, system
        self.dtype = np.uint16 if len(tokenizer) <= 1 << 16 else np.uint32
        self.tokens = _TokenWriter(folder / "tokens.bin", self.dtype)
        self.rows = array("q")
        self.counts = _Counts()
        self.encode = _encoder(tokenizer)
        self.segments = Segments.probe(tokenizer, system) if segmented else None
        self.system_ids: list[int] = (self.encode([self.segments.system_text])[0] if self.segments else [])
        self.generation = len(self.encode([self.segments.generation_prompt])[0]) if self.segments else 0
        self.count = None if segmented else chat_token_counter(tokenizer)
        self.verified = 0
        self.pending: list[tuple[Dialogue, int, list[int], dict[int, str], list[int], list[str]]] = []

    def add(self, dialogue: Dialogue) -> None:
        self.counts.dialogues += 1
        merged = merge_consecutive(dialogue)
        split = int(in_validation(dialogue.id, self.options))
        if self.segments is None:
            self._add_whole(merged, split)
            return
        seg, turns = self.segments, merged.turns
        learn = list(learnable_turns(merged))
        if not learn:  # nothing to learn from: its messages are not stored
            return
        targets = {i: format_target(turns[i], self.options) for i in learn}
        extra = [i for i in learn if targets[i] != turns[i].text]  # targets with a strategy or reasoning
        texts = [seg.text("user" if t.speaker == "seeker" else "assistant", t.text) for t in turns]
        self.pending.append((merged, split, learn, targets, extra,
                             texts + [seg.text("assistant", targets[i]) for i in extra]))
        if len(self.pending) >= ENCODE_DIALOGUES:
            self.flush()

    def flush(self) -> None:
        """Tokenise the pending dialogues in one call (the Rust tokenizer spreads a batch over the cores)."""
        encoded = self.encode([text for *_, texts in self.pending for text in texts])
        start = 0
        for dialogue, split, learn, targets, extra, texts in self.pending:
            self._add_segmented(dialogue, split, learn, targets, extra, encoded[start:start + len(texts)])
            start += len(texts)
        self.pending = []

    def _row(self, split: int, system: int, c0: int, c1: int, t0: int, t1: int, prompt: int, cut: bool) -> None:
        total = (len(self.system_ids) if system else 0) + (c1 - c0) + (t1 - t0)
        if prompt >= self.options.max_length:
            self.counts.dropped += 1
            return
        self.counts.examples += 1
        self.counts.validation += split
        self.counts.truncated += cut
        self.counts.cut += total > self.options.max_length
        self.rows.extend((split, system, c0, c1, t0, t1, prompt))

    def _add_segmented(self, dialogue: Dialogue, split: int, learn: list[int], targets: dict[int, str],
                       extra: list[int], encoded: list[list[int]]) -> None:
        """Write one dialogue's message segments (then its extra target segments) and one row per example."""
        turns = dialogue.turns
        starts = [self.tokens.write(ids) for ids in encoded]
        lengths = [len(ids) for ids in encoded]
        target_of = {i: (starts[i], lengths[i]) for i in learn}
        target_of.update({i: (starts[len(turns) + k], lengths[len(turns) + k]) for k, i in enumerate(extra)})
        generation, system = self.generation, len(self.system_ids)
        for i in learn:
            t0, tlen = target_of[i]
            first, cut = recent_start(lengths[:i], system + tlen, self.options)
            c0, c1 = starts[first], starts[i]  # the history messages first..i-1, contiguous in the token file
            prompt = system + (c1 - c0) + generation
            if self.verified < VERIFY:
                target_ids = encoded[len(turns) + extra.index(i)] if i in extra else encoded[i]
                ids = [*self.system_ids, *(t for message in encoded[first:i] for t in message), *target_ids]
                messages: list[Message] = [{"role": "system", "content": self.system},
                                           *history_messages(turns[first:i]),
                                           {"role": "assistant", "content": targets[i]}]
                self._verify(messages, ids, prompt)
            self._row(split, 1, c0, c1, t0, t0 + tlen, prompt, cut)

    def _verify(self, messages: list[Message], ids: list[int], prompt: int) -> None:
        """Compare one example with apply_chat_template, token for token."""
        self.verified += 1
        full = self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
        prompt_ids = self.tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True,
                                                        return_dict=False)
        if list(full) != ids or list(prompt_ids) != ids[:prompt]:
            raise _NotSegmented

    def _add_whole(self, dialogue: Dialogue, split: int) -> None:
        examples, _ = dialogue_examples(dialogue, self.options, self.count, self.system)
        for example in examples:
            prompt = self.tokenizer.apply_chat_template(example.prompt, tokenize=True, add_generation_prompt=True,
                                                        return_dict=False)
            full = list(self.tokenizer.apply_chat_template(example.messages, tokenize=True, return_dict=False))
            start = self.tokens.write(full)
            cut = len(example.prompt) - 1 < example.turn_index  # history messages kept < turns before
            self._row(split, 0, start, start + len(prompt), start + len(prompt), start + len(full), len(prompt), cut)

    def finish(self) -> None:
        if self.pending:
            self.flush()

    def close(self) -> None:
        self.tokens.close()


@dataclass
class TokenisedData:
    """A finished cache entry: token ids and example rows, memory-mapped."""

    folder: Path
    meta: dict[str, Any]
    cache_hit: bool

    def __post_init__(self) -> None:
        self.tokens = np.memmap(self.folder / "tokens.bin", dtype=self.meta["dtype"], mode="r") \
            if self.meta["tokens"] else np.zeros(0, dtype=self.meta["dtype"])
        self.rows = np.load(self.folder / "examples.npy", mmap_mode="r")
        self.system_ids = np.asarray(self.meta["system_ids"], dtype=np.int64)

    @property
    def key(self) -> str:
        return self.folder.name

    def example(self, row: int) -> tuple[np.ndarray, int]:
        """(token ids, number of prompt tokens) of example ``row``."""
        r = self.rows[row]
        parts = [self.system_ids] if r[SYSTEM] else []
        parts += [self.tokens[r[C0]:r[C1]], self.tokens[r[T0]:r[T1]]]
        return np.concatenate(parts).astype(np.int64), int(r[PROMPT])

    def split(self, options: DatasetConfig) -> tuple[np.ndarray, np.ndarray]:
        """(train rows, validation rows); the train rows are a seeded sample when ``max_examples`` is set."""
        validation = np.asarray(self.rows[:, SPLIT], dtype=bool)
        train, valid = np.flatnonzero(~validation), np.flatnonzero(validation)
        if options.max_examples and options.max_examples < len(train):
            chosen = sorted(random.Random(options.sample_seed).sample(range(len(train)), options.max_examples))
            train = train[chosen]
        return train, valid

    def data_hash(self, train: np.ndarray, validation: np.ndarray) -> str:
        """Fingerprint of the exact examples (the entry's key and the rows used)."""
        h = hashlib.sha256(self.key.encode())
        h.update(np.asarray(train, dtype=np.int64).tobytes())
        h.update(b"|")
        h.update(np.asarray(validation, dtype=np.int64).tobytes())
        return h.hexdigest()


def cache_key(corpus_sha256: str, options: DatasetConfig, tokenizer: Any, system: str, format: str) -> str:
    inputs = {"version": FORMAT_VERSION, "corpus": corpus_sha256, "format": format, "system": system,
              "options": {k: getattr(options, k) for k in _KEY_OPTIONS},
              "tokenizer": tokenizer_fingerprint(tokenizer)}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


def _build(corpus: Path, options: DatasetConfig, tokenizer: Any, format: str, folder: Path, system: str,
           progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    started = time.perf_counter()
    for segmented in (True, False):
        try:
            builder = _Builder(tokenizer, options, folder, system, segmented)
        except _NotSegmented:
            continue
        try:
            with tqdm(desc="tokenising", unit="dlg", disable=not progress, dynamic_ncols=True) as bar:
                for dialogue in read_corpus(corpus, format):
                    builder.add(dialogue)
                    bar.update(1)
                builder.finish()
        except _NotSegmented:
            continue
        finally:
            builder.close()
        break
    rows = np.frombuffer(builder.rows, dtype=np.int64).reshape(-1, len(COLUMNS))
    np.save(folder / "examples.npy", rows)
    c = builder.counts
    return {"columns": list(COLUMNS), "dtype": np.dtype(builder.dtype).name, "system_ids": builder.system_ids,
            "mode": "segments" if builder.segments else "whole", "tokens": builder.tokens.offset,
            "dialogues": c.dialogues, "examples": c.examples, "validation_examples": c.validation,
            "truncated_examples": c.truncated, "cut_examples": c.cut, "dropped_examples": c.dropped,
            "seconds": round(time.perf_counter() - started, 2), "corpus": str(corpus)}


def tokenise(corpus: str | Path, options: DatasetConfig, tokenizer: Any, *, format: str = "auto",
             cache_dir: str | Path | None = None, progress: bool = False) -> TokenisedData:
    """The tokenised examples of ``corpus``, from the cache or built into it."""
    corpus = Path(corpus)
    if not corpus.is_file():
        raise InputFileError(str(corpus), "file not found", hint="give the path of a corpus JSONL file")
    corpus_sha256 = file_sha256(corpus)
    system = system_prompt()
    key = cache_key(corpus_sha256, options, tokenizer, system, format)
    root = Path(cache_dir or options.cache_dir or default_cache_dir())
    folder = root / key
    if (folder / "meta.json").is_file():
        return TokenisedData(folder, json.loads((folder / "meta.json").read_text(encoding="utf-8")), True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        meta = {**_build(corpus, options, tokenizer, format, tmp, system, progress), "corpus_sha256": corpus_sha256}
        if not meta["examples"]:
            raise InputFileError(str(corpus), f"no supporter turn to learn from in {meta['dialogues']} dialogue(s)",
                                 hint="a training corpus needs supporter replies that follow a seeker turn")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")  # last: marks it finished
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished entry left by a crash
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same entry first: use theirs
            if not (folder / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TokenisedData(folder, meta, False)


class ExampleDataset:
    """A map-style dataset of tokenised examples for the transformers Trainer (ids cut at ``max_length``;
    labels -100 on the prompt, so the loss is on the supporter's reply and its end-of-turn tokens only)."""

    def __init__(self, data: TokenisedData, rows: np.ndarray, max_length: int) -> None:
        self.data, self.rows, self.max_length = data, rows, max_length

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        ids, prompt = self.data.example(int(self.rows[index]))
        ids = torch.from_numpy(ids[:self.max_length])
        labels = ids.clone()
        labels[:prompt] = -100
        return {"input_ids": ids, "labels": labels}


class PadCollator:
    """Right-pads a batch to its longest example (rounded up to ``multiple``); padding is masked out of
    attention and loss."""

    def __init__(self, pad_id: int, multiple: int | None = None) -> None:
        self.pad_id, self.multiple = pad_id, multiple

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        if self.multiple:
            width = -(-width // self.multiple) * self.multiple
        input_ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), width), -100, dtype=torch.long)
        attention = torch.zeros((len(features), width), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            input_ids[row, :n], labels[row, :n], attention[row, :n] = f["input_ids"], f["labels"], 1
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
