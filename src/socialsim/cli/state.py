"""Options shared by every command (set by the top-level callback) and the config they resolve to."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim.config import LoadedConfig, load_config, parse_assignment
from socialsim.safety import configure


@dataclass
class CliState:
    config_path: Path | None = None
    assignments: list[str] = field(default_factory=list)
    debug: bool = False

    def load(self, **flag_overrides: Any) -> LoadedConfig:
        """Resolve the config: file < env < ``--set`` < the command's own flags (None = flag not given)."""
        overrides: dict[str, Any] = dict(parse_assignment(a) for a in self.assignments)
        overrides.update({k: v for k, v in flag_overrides.items() if v is not None})
        loaded = load_config(self.config_path, overrides=overrides)
        configure(loaded.config.safety)  # every stage's safety net follows the config's safety section
        return loaded


STATE = CliState()
