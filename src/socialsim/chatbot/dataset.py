"""Training sets from a corpus: one example per supporter turn (history -> reply).

Each example is a conversational prompt-completion pair: ``prompt`` is the system prompt plus the dialogue so far
(seeker = ``user``, supporter = ``assistant``) and ``completion`` the supporter's reply as one ``assistant``
message (``Example.to_trl`` gives it in TRL's prompt-completion format, ``Example.messages`` as one ``messages``
list). Training computes the loss on the completion only, i.e. on the supporter reply, never on the history; it
reads the examples tokenised and cached (:mod:`socialsim.chatbot.tokenised`), built with the same functions as here.
Evaluation uses :func:`build_training_set`. The target can carry the strategy and/or the reasoning before the reply
(:func:`format_target`); :func:`parse_reply` strips them again.
"""

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from socialsim.chatbot.config import DatasetConfig
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.readers import merge_consecutive, read_corpus
from socialsim.errors import InputFileError
from socialsim.llm.types import Message
from socialsim.prompts import render

SYSTEM_TEMPLATE = "chatbot/system.j2"
REASONING_OPEN, REASONING_CLOSE = "[reasoning]", "[/reasoning]"
_STRATEGY_PREFIX = re.compile(r"^\s*\[([^\]\n]{1,40})\]\s*")

# Counts the tokens of a list of chat messages once the model's chat template is applied.
TokenCounter = Callable[[list[Message]], int]


def system_prompt() -> str:
    return render(SYSTEM_TEMPLATE)


@dataclass(frozen=True)
class Example:
    dialogue_id: str
    turn_index: int  # index of the supporter turn in the merged dialogue
    prompt: list[Message]
    target: str  # what the model learns to produce (reply, possibly with strategy / reasoning)
    reference: str  # the supporter's plain reply
    strategy: str | None = None

    @property
    def messages(self) -> list[Message]:
        return [*self.prompt, {"role": "assistant", "content": self.target}]

    def to_trl(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "completion": [{"role": "assistant", "content": self.target}]}


@dataclass
class TrainingSet:
    train: list[Example]
    validation: list[Example]
    corpus_sha256: str
    dialogues: int
    truncated: int = 0  # examples whose oldest turns were dropped to fit max_length
    meta: dict[str, Any] = field(default_factory=dict)


def format_target(turn: Turn, options: DatasetConfig) -> str:
    parts = []
    if options.include_reasoning and turn.reasoning is not None:
        parts.append(f"{REASONING_OPEN}\n{turn.reasoning.as_text()}\n{REASONING_CLOSE}\n")
    if options.include_strategy and turn.strategy:
        parts.append(f"[{turn.strategy}] ")
    return "".join(parts) + turn.text


def parse_reply(text: str) -> tuple[str, str | None]:
    """Generated text -> (reply, strategy or None): drops a reasoning block and a leading '[Strategy]'."""
    if REASONING_CLOSE in text:
        text = text.split(REASONING_CLOSE, 1)[1]
    elif text.lstrip().startswith(REASONING_OPEN):
        return "", None  # the reasoning never closed: no reply was produced
    match = _STRATEGY_PREFIX.match(text)
    if match:
        return text[match.end():].strip(), match.group(1).strip()
    return text.strip(), None


def history_messages(turns: Iterable[Turn]) -> list[Message]:
    return [{"role": "user" if t.speaker == "seeker" else "assistant", "content": t.text} for t in turns]


def recent_start(costs: Sequence[int], fixed: int, options: DatasetConfig) -> tuple[int, bool]:
    """(index of the first history message kept, whether any was dropped): at most ``max_history_turns`` messages,
    and ``fixed`` + the kept messages' costs within ``max_length`` tokens; the last message is always kept."""
    start = max(0, len(costs) - options.max_history_turns) if options.max_history_turns else 0
    truncated = start > 0
    total = fixed + sum(costs[start:])
    while start < len(costs) - 1 and total > options.max_length:
        total -= costs[start]
        start += 1
        truncated = True
    return start, truncated


def fit_history(system: str, history: list[Message], target: str, options: DatasetConfig,
                count: TokenCounter | None) -> tuple[list[Message], bool]:
    """Keep the most recent turns that fit ``max_history_turns`` and ``max_length`` (the last one always kept)."""
    if count is None:
        start, truncated = recent_start([0] * len(history), 0, options)
        return history[start:], truncated
    head: list[Message] = [{"role": "system", "content": system}]  # counters are additive over messages
    base = count(head)
    costs = [count([*head, m]) - base for m in history]
    start, truncated = recent_start(costs, count([*head, {"role": "assistant", "content": target}]), options)
    return history[start:], truncated


def learnable_turns(dialogue: Dialogue) -> Iterator[int]:
    """Indices of the supporter turns a model learns to produce: with text, after at least one seeker turn
    (greetings before the seeker speaks have nothing to reply to)."""
    seeker_spoke = False
    for index, turn in enumerate(dialogue.turns):
        if turn.speaker == "seeker":
            seeker_spoke = True
        elif seeker_spoke and turn.text.strip():
            yield index


def dialogue_examples(dialogue: Dialogue, options: DatasetConfig, count: TokenCounter | None = None,
                      system: str | None = None) -> tuple[list[Example], int]:
    """Examples of one (merged) dialogue and how many were truncated."""
    system = system if system is not None else system_prompt()
    examples, truncated = [], 0
    for index in learnable_turns(dialogue):
        turn = dialogue.turns[index]
        target = format_target(turn, options)
        kept, cut = fit_history(system, history_messages(dialogue.turns[:index]), target, options, count)
        truncated += cut
        examples.append(Example(dialogue.id, index, [{"role": "system", "content": system}, *kept], target,
                                turn.text, turn.strategy))
    return examples, truncated


def in_validation(dialogue_id: str, options: DatasetConfig) -> bool:
    digest = hashlib.sha256(f"{options.split_seed}:{dialogue_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < options.validation_fraction


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_training_set(corpus: str | Path, options: DatasetConfig, count: TokenCounter | None = None,
                       format: str = "auto") -> TrainingSet:
    """Read a corpus and split its supporter turns into train/validation examples (by dialogue, deterministic)."""
    corpus = Path(corpus)
    system = system_prompt()
    train: list[Example] = []
    validation: list[Example] = []
    dialogues = truncated = 0
    for dialogue in read_corpus(corpus, format):
        dialogues += 1
        examples, cut = dialogue_examples(merge_consecutive(dialogue), options, count, system)
        truncated += cut
        (validation if in_validation(dialogue.id, options) else train).extend(examples)
    if not train and not validation:
        raise InputFileError(str(corpus), f"no supporter turn to learn from in {dialogues} dialogue(s)",
                             hint="a training corpus needs supporter replies that follow a seeker turn")
    if not train:
        raise InputFileError(str(corpus), "every dialogue fell into the validation split",
                             hint="lower chatbot.data.validation_fraction or use a larger corpus")
    if options.max_examples and options.max_examples < len(train):
        chosen = sorted(random.Random(options.sample_seed).sample(range(len(train)), options.max_examples))
        train = [train[i] for i in chosen]
    return TrainingSet(train, validation, file_sha256(corpus), dialogues, truncated)


def chat_token_counter(tokenizer: Any) -> TokenCounter:
    """Token count of messages under the tokenizer's chat template, computed per message and cached.

    A message costs its content's tokens plus the template's fixed tokens around a message of its role (measured
    once): exact for templates that wrap each message between special tokens, like ChatML (SmolLM2, Qwen), and
    fast enough to truncate long histories. Any remaining excess is cut by the trainer's ``max_length``.
    """

    def template_length(messages: list[Message]) -> int:
        return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False))

    fast = getattr(tokenizer, "backend_tokenizer", None)  # the Rust tokenizer: ~50x less overhead per call

    @lru_cache(maxsize=1 << 16)  # bounded: a counter lives as long as a run over a large corpus
    def content_length(content: str) -> int:
        if fast is not None:
            return len(fast.encode(content, add_special_tokens=False).ids)
        return len(tokenizer(content, add_special_tokens=False)["input_ids"])

    @cache
    def overhead(role: str) -> int:
        probe: list[Message] = [{"role": "system", "content": "x"}, {"role": role, "content": "x"}]  # type: ignore
        return template_length(probe) - template_length(probe[:1]) - content_length("x")

    @cache
    def system_cost(content: str) -> int:
        return template_length([{"role": "system", "content": content}])

    def count(messages: list[Message]) -> int:
        if not messages or messages[0]["role"] != "system":
            return template_length(messages)
        return system_cost(messages[0]["content"]) + sum(
            overhead(m["role"]) + content_length(m["content"]) for m in messages[1:])

    return count
