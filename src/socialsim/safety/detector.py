"""The layered detector: lexicon, then the learned layer, then (optionally, async callers only) an LLM.

Risk: a kind is flagged when the learned layer's probability reaches the kind's threshold (set for recall by
cross-validation on the probe set's train split), or when the lexicon matches it and the learned layer is not sure
it is wrong (the kind's probability reaches the model's lexicon floor, 0.02: the idioms, grief and denials the
lexicon misreads are what the learned layer was trained on; without the learned layer every lexicon hit counts). The
LLM layer, when on, looks at the turns the others did not flag and can only add kinds (a net for recall, never a
veto). Replies: a reply addresses safety when the lexicon finds real guidance in it (asks about safety, a crisis line,
emergency services, urgent contact with a trusted person or professional) or the learned reply classifier says so.

Results are memoised in memory and, with a cache, in SQLite keyed by the detector's fingerprint (lexicon, model
files, layers) and the text, so a second pass over a corpus reads instead of embedding.
"""

import asyncio
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialsim.extras import missing_extra
from socialsim.safety.config import SafetyConfig
from socialsim.safety.kinds import RISK_KINDS, RiskKind
from socialsim.safety.lexicon import lexicon
from socialsim.safety.store import ResultCache

RISK_MODEL, REPLY_MODEL = "risk_model.npz", "reply_model.npz"
MEMO_LIMIT = 200_000


@dataclass(frozen=True)
class RiskResult:
    """What the detector says about one text."""

    kinds: tuple[RiskKind, ...]  # flagged kinds, in RISK_KINDS order
    score: float  # 1.0 where the lexicon (not overruled) or LLM flagged, else the learned "any risk", 1 - P(none)
    scores: dict[str, float]  # learned probability per kind ({} when the learned layer did not run)
    layers: tuple[str, ...]  # the layers that flagged it: lexicon, learned, llm

    @property
    def flagged(self) -> bool:
        return bool(self.kinds)

    def as_json(self) -> dict[str, Any]:
        return {"kinds": list(self.kinds), "score": round(self.score, 4), "scores": self.scores,
                "layers": list(self.layers)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RiskResult":
        return cls(tuple(data["kinds"]), data["score"], data["scores"], tuple(data["layers"]))


@dataclass(frozen=True)
class ReplyResult:
    """Whether a supporter reply addresses safety, and how."""

    addresses: bool
    score: float  # 1.0 where the lexicon found guidance, else the learned probability (0 without it)
    guidance: tuple[str, ...]  # lexicon categories found: ask_safety, crisis_line, emergency, urgent_contact
    layers: tuple[str, ...]  # the layers that said it addresses safety

    def as_json(self) -> dict[str, Any]:
        return {"addresses": self.addresses, "score": round(self.score, 4), "guidance": list(self.guidance),
                "layers": list(self.layers)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ReplyResult":
        return cls(data["addresses"], data["score"], tuple(data["guidance"]), tuple(data["layers"]))


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "socialsim" / "safety.sqlite"


def _learned_available() -> bool:
    from socialsim.embeddings import available

    return available()


class RiskDetector:
    """The safety net's detector; one per process is enough (:func:`socialsim.safety.default_detector`)."""

    def __init__(self, config: SafetyConfig | None = None, *, llm: Any = None,
                 cache: ResultCache | None = None, live: bool = False) -> None:
        self.config = config or SafetyConfig()
        self.operating_point = self.config.point(live)  # live chat: operating_point; corpus uses: the corpus one
        self.llm = llm if self.config.llm else None  # a socialsim.llm.Backend (the judge role's)
        self.cache = cache
        self.lexicon = lexicon()
        uses_learned = self.operating_point != "lexicon" and self.config.learned != "off"
        self.learned = uses_learned and (self.config.learned == "on" or _learned_available())
        if uses_learned and self.config.learned == "on" and not _learned_available():
            raise missing_extra("sentence_transformers")  # type: ignore[misc]
        self._risk_model: Any = None
        self._reply_model: Any = None
        self._memo: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._llm_memo: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_config(cls, config: SafetyConfig, *, llm: Any = None, live: bool = False) -> "RiskDetector":
        """A detector with the SQLite cache the config names (when ``config.cache``); ``live`` for the chat."""
        cache = None
        if config.cache:
            cache = ResultCache(Path(config.cache_path).expanduser() if config.cache_path else default_cache_path())
        return cls(config, llm=llm, cache=cache, live=live)

    # -- what runs -----------------------------------------------------------------------------------------
    @property
    def layers(self) -> tuple[str, ...]:
        """The layers that run on every call (the LLM layer only runs in :meth:`ascore`)."""
        return ("lexicon", "learned") if self.learned else ("lexicon",)

    def describe(self) -> str:
        """One line for reports and filter tables: which layers ran."""
        if self.learned:
            text = "lexicon + learned layer (tuned MiniLM and n-gram classifier)"
        elif self.operating_point == "lexicon":
            text = ("lexicon only (safety.corpus_operating_point: lexicon; balanced or recall add the learned layer, "
                    "which catches indirect phrasings)")
        else:
            text = "lexicon only (install socialsim[embed] for the learned layer, which catches indirect phrasings)"
        return text + (" + LLM layer (judge role)" if self.llm is not None else "")

    def _models(self) -> tuple[Any, Any]:
        if self._risk_model is None:
            from socialsim.safety.learned import load_model

            self._risk_model = load_model(RISK_MODEL)
            self._reply_model = load_model(REPLY_MODEL)
        return self._risk_model, self._reply_model

    def _thresholds(self, model: Any) -> dict[str, float]:
        return model.thresholds["balanced" if self.operating_point == "balanced" else "recall"]

    def fingerprint(self, what: str) -> str:
        """Identifies what determines a result: the lexicon, the model file, the layers, the operating point."""
        parts = [what, self.lexicon.version, ",".join(self.layers), self.operating_point]
        if self.learned:
            risk, reply = self._models()
            parts.append((risk if what == "risk" else reply).version)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    # -- risk ----------------------------------------------------------------------------------------------
    def score(self, texts: Sequence[str]) -> list[RiskResult]:
        """One :class:`RiskResult` per text (lexicon and learned layers), batched, memoised and cached."""
        return self._batched("risk", texts, self._score_new, RiskResult.from_json)

    def kinds(self, text: str) -> list[RiskKind]:
        return list(self.score([text])[0].kinds)

    def _score_new(self, texts: list[str]) -> list[RiskResult]:
        lexical = [self.lexicon.kinds(t) for t in texts]
        if not self.learned:
            return [RiskResult(tuple(k), 1.0 if k else 0.0, {}, ("lexicon",) if k else ()) for k in lexical]
        from socialsim.safety.learned import learned_kinds
        from socialsim.safety.probes import NONE

        model = self._models()[0]
        probs = model.probabilities(texts)
        classes = model.classes
        thresholds = self._thresholds(model)
        out = []
        for matched, row in zip(lexical, probs, strict=True):
            scores = {c: round(float(p), 4) for c, p in zip(classes, row, strict=True) if c in RISK_KINDS}
            lex = [k for k in matched if row[classes.index(k)] >= model.lexicon_floor]
            learned = learned_kinds(row, classes, thresholds)
            kinds = tuple(k for k in RISK_KINDS if k in lex or k in learned)
            layers = tuple(name for name, hit in (("lexicon", lex), ("learned", learned)) if hit)
            score = 1.0 if lex else round(1.0 - float(row[classes.index(NONE)]), 4)
            out.append(RiskResult(kinds, score, scores, layers))  # type: ignore[arg-type]
        return out

    async def ascore(self, texts: Sequence[str]) -> list[RiskResult]:
        """:meth:`score`, then the LLM layer (when configured) on the texts the other layers did not flag."""
        results = self.score(texts)
        if self.llm is None:
            return results
        floor = self.config.llm_floor if self.learned else 0.0
        todo = sorted({t for t, r in zip(texts, results, strict=True)
                       if not r.flagged and r.score >= floor and t not in self._llm_memo})
        if todo:
            from socialsim.safety.llm import llm_kinds

            found = await asyncio.gather(*(llm_kinds(self.llm, t) for t in todo))
            self._llm_memo.update(zip(todo, found, strict=True))
        out = []
        for text, result in zip(texts, results, strict=True):
            extra = self._llm_memo.get(text, ()) if not result.flagged else ()
            if extra:
                result = RiskResult(tuple(k for k in RISK_KINDS if k in extra), 1.0, result.scores, ("llm",))
            out.append(result)
        return out

    # -- replies -------------------------------------------------------------------------------------------
    def replies(self, texts: Sequence[str]) -> list[ReplyResult]:
        """One :class:`ReplyResult` per supporter reply, batched, memoised and cached."""
        return self._batched("reply", texts, self._replies_new, ReplyResult.from_json)

    def addresses(self, text: str) -> bool:
        return self.replies([text])[0].addresses

    def _replies_new(self, texts: list[str]) -> list[ReplyResult]:
        guidance = [tuple(self.lexicon.reply_kinds(t)) for t in texts]
        if not self.learned:
            return [ReplyResult(bool(g), 1.0 if g else 0.0, g, ("lexicon",) if g else ()) for g in guidance]
        model = self._models()[1]
        probs = model.probabilities(texts)[:, model.classes.index("addresses")]
        threshold = self._thresholds(model)["addresses"]
        out = []
        for g, p in zip(guidance, probs, strict=True):
            layers = tuple(name for name, hit in (("lexicon", g), ("learned", p >= threshold)) if hit)
            out.append(ReplyResult(bool(layers), 1.0 if g else round(float(p), 4), g, layers))
        return out

    # -- memo and cache ------------------------------------------------------------------------------------
    def _batched(self, what: str, texts: Sequence[str], compute: Any, parse: Any) -> list[Any]:
        with self._lock:
            found = {t: self._memo[(what, t)] for t in dict.fromkeys(texts) if (what, t) in self._memo}
            wanted = [t for t in dict.fromkeys(texts) if t not in found]
            if wanted and self.cache is not None:
                found.update((t, parse(v)) for t, v in self.cache.get(self.fingerprint(what), wanted).items())
                wanted = [t for t in wanted if t not in found]
            if wanted:
                fresh = dict(zip(wanted, compute(wanted), strict=True))
                if self.cache is not None:
                    self.cache.put(self.fingerprint(what), {t: r.as_json() for t, r in fresh.items()})
                found.update(fresh)
            if len(self._memo) + len(found) > MEMO_LIMIT:
                self._memo.clear()
            self._memo.update(((what, t), r) for t, r in found.items())
            return [found[t] for t in texts]
