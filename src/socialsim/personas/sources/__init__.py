"""Persona sources: one small reader per module, found through a registry (see :mod:`.base`).

Every module of this package is imported here so its reader registers itself: adding a source is adding a file.
"""

import importlib
import pkgutil

from socialsim.personas.sources.base import (
    SOURCES,
    TOPICS,
    Source,
    SourceRecord,
    normalise_topic,
    open_source,
    register_source,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["SOURCES", "TOPICS", "Source", "SourceRecord", "normalise_topic", "open_source", "register_source"]
