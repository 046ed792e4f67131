"""An mkdocs hook that lists the lecture's notebooks in the nav.

``docs/notebooks`` is a link to the repository's ``notebooks/`` folder, whose notebooks the
mkdocs-jupyter plugin renders. mkdocs.yml names the place of the section with an entry
``Notebooks: notebooks/README.md``; this hook makes it a section holding that page and then
every ``notebooks/*.ipynb`` in name order, so that a new notebook needs no edit here.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

__all__ = ["NAV_TITLE", "OVERVIEW", "on_config"]

NAV_TITLE = "Notebooks"
OVERVIEW = "notebooks/README.md"


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    folder = Path(str(config.docs_dir)) / "notebooks"
    found = sorted(p.name for p in folder.glob("*.ipynb"))
    for i, entry in enumerate(config.nav or []):
        if isinstance(entry, dict) and entry.get(NAV_TITLE) == OVERVIEW:
            if found:
                config.nav[i] = {NAV_TITLE: [OVERVIEW, *(f"notebooks/{n}" for n in found)]}
            return config
    raise PluginError(f"mkdocs.yml: the nav needs an entry '{NAV_TITLE}: {OVERVIEW}' (the hook)")
