"""Build course notebooks with the same opening cells: title with an "Open in Colab" badge, a guarded Colab
set-up cell, and the runtime budget. Used by the per-notebook builder scripts beside it in `notebooks/src/` (run as scripts, they import it directly).

    from notebook_tools import new_notebook, md, code
    nb = new_notebook("02_masked_autoencoding.ipynb", "Masked autoencoding", budget="about 60 s on 2 CPU cores")
    nb.cells += [md("..."), code("...")]
    save(nb, "02_masked_autoencoding.ipynb")
"""
from __future__ import annotations

from pathlib import Path

import nbformat

REPOSITORY = "ssl-hands-on/ssl-hands-on"
NOTEBOOKS = Path(__file__).resolve().parent.parent


def colab_url(filename: str) -> str:
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{filename}"


def colab_badge(filename: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(filename)})"


# On Colab, install only the course package itself (`--no-deps`): Colab already has PyTorch with CUDA,
# torchvision, scikit-learn, scikit-image, matplotlib and ipywidgets, and replacing its ipywidgets or its
# Jupyter packages with pyproject's (ipywidgets 8, JupyterLab 4) can stop widgets from rendering there.
# `pick_device()` then finds the Colab GPU on its own.
COLAB_SETUP = f'''# Colab only: install the course helpers from the repository. Does nothing anywhere else.
import sys
if "google.colab" in sys.modules:
    %pip install -q --no-deps "ssl_helpers @ git+https://github.com/{REPOSITORY}"'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip("\n"))


def new_notebook(filename: str, title: str, budget: str, intro: str = ""):
    """A notebook whose first cells are the title + badge (+ intro and runtime budget) and the Colab cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    header = f"# {title}\n\n{colab_badge(filename)}\n\n{intro.strip()}\n\n**Runtime budget:** {budget}."
    nb.cells = [md(header), code(COLAB_SETUP)]
    return nb


def save(nb, filename: str) -> Path:
    path = NOTEBOOKS / filename
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path
