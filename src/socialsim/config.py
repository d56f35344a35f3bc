"""The root configuration of socialsim: it composes every stage's section, and records where each value came from.

Layers, later ones winning: built-in defaults < YAML file (``--config`` or ``$SOCIALSIM_CONFIG``) <
environment variables ``SOCIALSIM__SECTION__KEY`` (values parsed as YAML scalars) < command-line flags
(``--set section.key=value`` and the flags of each command). Unknown keys are an error in every layer.

Only the surfaces (CLI, web app start-up) read this module. They hand each stage its own section plus a backend
provider (:meth:`SocialsimConfig.backends`); no stage imports the root.
"""

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from socialsim.chatbot.config import ChatbotConfig
from socialsim.corpus.jsonl import DEFAULT_MAX_RECORD_BYTES, set_max_record_bytes
from socialsim.errors import ConfigError
from socialsim.evaluation.config import EvaluationConfig
from socialsim.llm.config import BackendSettings, LlamaCppSettings
from socialsim.llm.registry import BackendKeyError, backend_settings, resolve_settings
from socialsim.llm.roles import ROLES, RoleBackends
from socialsim.personas.config import PersonaConfig
from socialsim.safety.config import SafetyConfig
from socialsim.simulation.config import SimulationConfig

Role = Literal["extractor", "seeker", "supporter", "judge", "chatbot"]
assert get_args(Role) == ROLES
ENV_PREFIX = "SOCIALSIM__"


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Cache LLM calls in SQLite so re-runs never pay twice.")
    path: str | None = Field(None, description="Cache file (unset = llm_cache.sqlite in the output folder).")


class StructuredConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(3, ge=1, description="Calls per structured answer (first try + re-asks).")


class InputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_record_bytes: int = Field(
        DEFAULT_MAX_RECORD_BYTES, ge=256,
        description="Largest JSONL record (one line) any reader accepts: corpora, persona banks, predictions, "
        "judgements. A bigger one is an error naming file and line, and is never held in memory whole.")


class SocialsimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    llm: SerializeAsAny[BackendSettings] = Field(
        default_factory=LlamaCppSettings, description="Default backend of every role (keys depend on llm.backend).")
    roles: dict[Role, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-role overrides of llm (roles: extractor, seeker, supporter, judge, chatbot).",
    )
    models: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named model presets, e.g. {qwen7b: {backend: openai, base_url: ..., model: ...}}: a model key "
        "(llm.model, roles.ROLE.model, --model) naming a preset takes all of its settings.",
    )
    cache: CacheConfig = Field(default_factory=CacheConfig)
    structured: StructuredConfig = Field(default_factory=StructuredConfig)
    input: InputConfig = Field(default_factory=InputConfig, description="Limits of every input file reader.")
    chatbot: ChatbotConfig = Field(default_factory=ChatbotConfig, description="Support chatbot (stage 6).")
    simulation: SimulationConfig = Field(default_factory=SimulationConfig, description="Dialogue simulator.")
    personas: PersonaConfig = Field(default_factory=PersonaConfig, description="Persona bank (stage 1).")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="Corpus filters and judge.")
    safety: SafetyConfig = Field(default_factory=SafetyConfig, description="Crisis safety net (every stage).")

    @field_validator("llm", mode="before")
    @classmethod
    def _typed_llm(cls, value: Any) -> Any:
        return backend_settings(value, "llm") if isinstance(value, Mapping) else value

    @field_validator("models")
    @classmethod
    def _typed_presets(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, preset in value.items():
            if not isinstance(preset, Mapping):
                raise ValueError(f"preset {name!r} must be a mapping of backend settings")
            backend_settings(preset, f"models.{name}")  # unknown or misplaced keys are an error now
        return value

    @model_validator(mode="after")
    def _check_roles(self) -> "SocialsimConfig":
        for role in (*self.roles, "seeker"):
            self.backend_for(role)  # validates the overrides and presets now, not at first use
        return self

    def _preset(self, settings: Mapping[str, Any]) -> dict[str, Any] | None:
        model = settings.get("model")
        return dict(self.models[model]) if isinstance(model, str) and model in self.models else None

    def backend_for(self, role: str) -> BackendSettings:
        """The resolved settings of one pipeline role: ``llm`` with the role's overrides applied, where a ``model``
        naming a preset (``models.NAME``) stands for the preset's settings (the role's other keys still win)."""
        default = self.llm.model_dump()
        if (preset := self._preset(default)) is not None:
            default = resolve_settings(default, preset, "llm").model_dump()
        override = dict(self.roles.get(role, {}))  # type: ignore[call-overload]
        if (preset := self._preset(override)) is not None:
            override = {**preset, **{k: v for k, v in override.items() if k != "model"}}
        return resolve_settings(default, override, f"roles.{role}")

    def backends(self, output_dir: Path | None = None, *, use_cache: bool | None = None) -> RoleBackends:
        """The backend provider of every role; the request cache lives in ``output_dir`` unless cache.path is set."""
        enabled = self.cache.enabled if use_cache is None else use_cache
        path = None
        if enabled:
            path = Path(self.cache.path) if self.cache.path else (output_dir or Path(".socialsim")) / "llm_cache.sqlite"
        return RoleBackends({role: self.backend_for(role) for role in ROLES}, cache_path=path,
                            structured_attempts=self.structured.max_attempts)


@dataclass
class LoadedConfig:
    config: SocialsimConfig
    sources: dict[str, str] = field(default_factory=dict)  # dotted key -> "file PATH", "env VAR" or "flag"

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {dotted!r}: {part!r} is not a section")
    node[leaf] = value


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and key != "extra_body":
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _known_keys() -> list[str]:
    return list(_flatten(SocialsimConfig().model_dump()).keys())


def _explain(exc: ValidationError, sources: dict[str, str]) -> ConfigError:
    err = exc.errors()[0]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, BackendKeyError):
        origin = sources.get(cause.key) or next((src for key, src in sources.items() if key.startswith(
            cause.key.rsplit(".", 1)[0] + ".")), "default")
        return ConfigError(f"{cause.message} (from {origin})", cause.hint)
    dotted = ".".join(str(p) for p in err["loc"])
    origin = sources.get(dotted) or next(
        (src for key, src in sources.items() if key.startswith(dotted + ".") or dotted.startswith(key)), "default"
    )
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(dotted, _known_keys(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "run `socialsim config show` to list the valid keys"
        return ConfigError(f"unknown config key {dotted!r} (from {origin})", hint)
    return ConfigError(f"invalid value for {dotted!r} (from {origin}): {err['msg']}",
                       "run `socialsim config show` to see every key with its current value")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``section.key=value`` -> (dotted key, YAML-parsed value)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE, got {text!r}", "e.g. --set llm.temperature=0.3")
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> LoadedConfig:
    """Build the config from defaults, a YAML file, environment variables and flag overrides, in that order."""
    env = os.environ if env is None else env
    tree: dict[str, Any] = {}
    sources: dict[str, str] = {}
    path = path or env.get("SOCIALSIM_CONFIG")
    if path:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}", "check the path given to --config") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the config must be a mapping of sections, got {type(loaded).__name__}")
        tree = loaded
        sources.update(dict.fromkeys(_flatten(loaded), f"file {path}"))
    for var, raw in sorted(env.items()):
        if var.startswith(ENV_PREFIX):
            dotted = var[len(ENV_PREFIX):].lower().replace("__", ".")
            _set_dotted(tree, dotted, yaml.safe_load(raw) if raw.strip() else None)
            sources[dotted] = f"env {var}"
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        _set_dotted(tree, dotted, value)
        sources[dotted] = "flag"
    try:
        config = SocialsimConfig.model_validate(tree)
    except ValidationError as exc:
        raise _explain(exc, sources) from None
    return LoadedConfig(config, sources)


def apply_input_limits(config: SocialsimConfig) -> None:
    """Give every file reader of this process the config's record-size limit (the surfaces call this)."""
    set_max_record_bytes(config.input.max_record_bytes)


def describe_config(loaded: LoadedConfig) -> list[tuple[str, Any, str]]:
    """(key, value, source) rows for ``socialsim config show``; role backends are shown fully resolved."""
    data = loaded.config.model_dump()
    data.pop("roles")
    rows = [(key, value, loaded.source_of(key)) for key, value in _flatten(data).items()]
    for role in ROLES:
        override = loaded.config.roles.get(role, {})  # type: ignore[call-overload]
        for key, value in override.items():
            rows.append((f"roles.{role}.{key}", value, loaded.source_of(f"roles.{role}.{key}")))
    return rows
