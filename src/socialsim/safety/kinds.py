"""The kinds of crisis content the safety net detects (owned here; profiles and corpora refer to them)."""

from typing import Literal, get_args

RiskKind = Literal["self_harm", "suicidal_ideation", "abuse"]
RISK_KINDS: tuple[str, ...] = get_args(RiskKind)
