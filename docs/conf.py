"""
Sphinx configuration of the reelgate documentation.

Build it with ``nox -s docs`` or, in the workspace's virtual environment::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build needs no network: there are no intersphinx inventories to fetch.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# The core is normally installed (editable) in the environment that builds the docs;
# putting its source first also lets a plain checkout build them.
sys.path.insert(0, str(_ROOT / "core" / "src"))

import reelgate  # noqa: E402  # needs the path above

project = "reelgate"
author = "The reelgate developers"
copyright = "the reelgate developers"
release = reelgate.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: fenced directives with ::: and definition lists read well in Markdown.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Docstrings write `name` for a reference: make it one (a link where Sphinx finds the
# name, code-formatted text otherwise).
default_role = "py:obj"

# autodoc + napoleon: Google-style docstrings, members in source order, signatures
# without the type clutter (types are listed with the parameters instead). Pages whose
# classes have bases worth showing (the errors) ask for :show-inheritance: themselves.
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# `Attributes:` sections become :ivar: fields, so they do not repeat what autodoc
# documents for attrs fields (which would be duplicate object descriptions).
napoleon_use_ivar = True
napoleon_use_rtype = False

# No network at build time: no inventories are fetched.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
intersphinx_disabled_reftypes = ["*"]

html_theme = "furo"
html_title = f"reelgate {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
pygments_style = "friendly"
pygments_dark_style = "monokai"
