"""Options shared by every command (set by the top-level callback) and the config they resolve to."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim.config import LoadedConfig, apply_input_limits, load_config, parse_assignment
from socialsim.safety import configure


@dataclass
class CliState:
    config_path: Path | None = None
    assignments: list[str] = field(default_factory=list)
    debug: bool = False

    def load(self, **flag_overrides: Any) -> LoadedConfig:
        """Resolve the config: file < env < ``--set`` < the command's own flags (None = flag not given); its
        input limits then hold for every file the command reads."""
        overrides: dict[str, Any] = dict(parse_assignment(a) for a in self.assignments)
        overrides.update({k: v for k, v in flag_overrides.items() if v is not None})
        loaded = load_config(self.config_path, overrides=overrides)
        configure(loaded.config.safety)  # every stage's safety net follows the config's safety section
        apply_input_limits(loaded.config)
        return loaded


STATE = CliState()

SIMULATION_ROLES = ("extractor", "seeker", "supporter")
MODEL_HELP = ("Model of the persona extractor, seeker and supporter: a preset of the config's `models` section, a "
              "server's model name (with --backend openai) or a GGUF path.")
BACKEND_HELP = "Backend of the extractor, seeker and supporter: llamacpp (embedded, default) or openai (a server)."
BASE_URL_HELP = "Server URL ending in /v1 (openai backend), e.g. http://127.0.0.1:8000/v1."


def role_overrides(roles: tuple[str, ...], backend: str | None, model: str | None,
                   base_url: str | None) -> dict[str, Any]:
    """``roles.ROLE.backend/model/base_url`` overrides for a command's --backend, --model and --base-url."""
    out: dict[str, Any] = {}
    for role in roles:
        out.update({f"roles.{role}.backend": backend, f"roles.{role}.model": model,
                    f"roles.{role}.base_url": base_url})
    return out


def turn_flags(max_turns: int | None, min_turns: int | None) -> dict[str, Any]:
    """The overrides of --max-turns and --min-turns; --max-turns alone, below the configured min_turns, lowers
    min_turns to it (a short preview needs no second flag)."""
    if max_turns is not None and min_turns is None and STATE.load().config.simulation.min_turns > max_turns:
        min_turns = max_turns
    return {"simulation.max_turns": max_turns, "simulation.min_turns": min_turns}
