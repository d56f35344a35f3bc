"""Options shared by every command (set by the top-level callback) and the config they resolve to."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim.config import LoadedConfig, apply_input_limits, load_config, parse_assignment


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
        apply_input_limits(loaded.config)
        return loaded


STATE = CliState()
