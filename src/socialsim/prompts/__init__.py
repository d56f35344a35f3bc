"""Prompt templates (Jinja2 files in this folder), versioned as data.

Each template is addressed by its path relative to this folder, e.g. ``render("common/reask.j2", error=...)``.
:func:`template_hash` fingerprints a template so corpora record exactly which prompt produced them.
"""

import hashlib
from functools import cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("socialsim", "prompts"), undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, autoescape=False,
    )


def render(name: str, **variables: object) -> str:
    return _env().get_template(name).render(**variables).strip()


@cache
def template_hash(name: str) -> str:
    data = files("socialsim.prompts").joinpath(name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]
