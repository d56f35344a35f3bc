"""Baseline (c) of bench_simulation.py: a minimal two-agent role-play loop, as peer tools write one.

Every call re-sends the whole history to a fresh context: the Llama's KV cache is cleared before each call, so
no prefix of any kind is reused (llama-cpp-python's own longest-common-prefix reuse included), and each call
checks that the prompt tokens it evaluated equal the prompt tokens it sent. Everything else is held the same as
the simulator's run it is compared with: the embedded model and its grammar-last sampler, the profiles, the
prompt templates, the JSON schemas, the per-role token caps (``SimulationConfig.seeker_max_tokens`` /
``supporter_max_tokens``), the sampling parameters and the supporter's earlier turns kept as strategy and response.
What a peer lacks is left out: no disclosure cues (the whole profile is in the seeker's system prompt, as in plain
role-play), no checks, no regenerations, no early end: exactly ``turns`` utterances, seeker first.

This is a benchmark baseline, not a product feature; it is not part of the package.
"""

import json
import time
from typing import Any

from llama_cpp import Llama

from socialsim.corpus.dialogue import STRATEGIES
from socialsim.corpus.profile import DISCLOSABLE_FIELDS, Profile, field_label
from socialsim.llm.config import LlamaCppSettings
from socialsim.llm.embedded import embedded_model_path
from socialsim.llm.grammar_last import GrammarLastLlama
from socialsim.llm.structured import parse_lenient
from socialsim.prompts import render
from socialsim.simulation.config import SimulationConfig
from socialsim.simulation.conversation import dialogue_seed
from socialsim.simulation.schemas import SeekerReply, SupporterReasoned


class FreshContextLlama(GrammarLastLlama):
    """A Llama whose every chat completion starts from an empty KV cache and records what it evaluated."""

    prompt_evaluated: int | None = None

    def eval(self, tokens: Any) -> None:
        if self.prompt_evaluated is None:  # generate() evaluates the prompt first, then one token per step
            self.prompt_evaluated = len(tokens)
        super().eval(tokens)

    def complete_fresh(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        self.reset()  # n_tokens = 0: generate() finds no prefix to reuse and eval() clears the whole KV cache
        self.prompt_evaluated = None
        out = self.create_chat_completion(messages, **kwargs)
        sent = out["usage"]["prompt_tokens"]
        if self.prompt_evaluated != sent:
            raise AssertionError(f"evaluated {self.prompt_evaluated} prompt tokens of {sent} sent: a prefix was reused")
        return out


def load(n_threads: int, n_ctx: int = 8192) -> FreshContextLlama:
    return FreshContextLlama(model_path=str(embedded_model_path()), n_ctx=n_ctx, n_threads=n_threads,
                             n_threads_batch=n_threads, verbose=False)


def peer_dialogue(llm: Llama, profile: Profile, dialogue_id: str, turns: int,
                  config: SimulationConfig | None = None, sampling: LlamaCppSettings | None = None) -> dict[str, Any]:
    """One dialogue of exactly ``turns`` utterances; returns its turns and per-call token counts."""
    config, sampling = config or SimulationConfig(), sampling or LlamaCppSettings()
    fields = [(field_label(f), profile.text_of(f)) for f in DISCLOSABLE_FIELDS]
    seeker = [{"role": "system", "content": render("seeker/system.j2", p=profile, disclosure=False, fields=fields)}]
    supporter = [{"role": "system", "content": render("supporter/system.j2", reasoning=True,
                                                      strategies=STRATEGIES)}]
    seed = dialogue_seed(config.seed, dialogue_id)
    said: list[dict[str, str]] = []
    calls: list[dict[str, Any]] = []
    unparsed = 0
    last: str | None = None
    start = time.perf_counter()
    for index in range(turns):
        if index % 2 == 0:
            speaker, messages, schema, cap = "seeker", seeker, SeekerReply, config.seeker_max_tokens
            messages.append({"role": "user", "content": render("seeker/turn.j2", supporter_text=last, share=[],
                                                               may_end=False)})
        else:
            speaker, messages, schema, cap = "supporter", supporter, SupporterReasoned, config.supporter_max_tokens
            messages.append({"role": "user", "content": render("supporter/turn.j2", seeker_text=last, crisis=False)})
        call_start = time.perf_counter()
        out = llm.complete_fresh(  # type: ignore[attr-defined]
            messages, temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=cap,
            repeat_penalty=sampling.repeat_penalty, seed=seed + 1000 * index,
            response_format={"type": "json_object", "schema": schema.model_json_schema()})
        seconds = time.perf_counter() - call_start
        raw = out["choices"][0]["message"]["content"] or ""
        try:
            value, _ = parse_lenient(raw, schema)
        except ValueError:  # e.g. cut at the token cap: a peer keeps what it got
            value, unparsed = None, unparsed + 1
        if speaker == "seeker":
            last = value.message if value else raw
            messages.append({"role": "assistant", "content": raw})
        else:
            last = value.response if value else raw
            kept = json.dumps({"strategy": value.strategy, "response": value.response}) if value else raw
            messages.append({"role": "assistant", "content": kept})
        said.append({"speaker": speaker, "text": last})
        calls.append({"speaker": speaker, "prompt_tokens": out["usage"]["prompt_tokens"],
                      "prompt_tokens_evaluated": llm.prompt_evaluated,  # type: ignore[attr-defined]
                      "completion_tokens": out["usage"]["completion_tokens"], "seconds": round(seconds, 3)})
    return {"id": dialogue_id, "turns": said, "calls": calls, "unparsed": unparsed,
            "seconds": round(time.perf_counter() - start, 3)}
