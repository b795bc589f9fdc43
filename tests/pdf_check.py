"""Every page of a report's PDF rendered to PNG with poppler's pdftoppm and checked as a reader sees it: whole A4,
nothing printed in the side margins or between the last line and the page number (a table column or a line
that ran off the page would be), no blank page, and the figure pages carrying a drawn figure."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DPI = 40
A4_IN = (8.27, 11.69)


def rendered_pages(pdf: Path, out: Path) -> list[np.ndarray]:
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: install Debian's poppler-utils (apt-get install -y poppler-utils)")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(out / "page")], check=True, timeout=300)
    return [np.asarray(Image.open(p).convert("RGB")).astype(int) for p in sorted(out.glob("page-*.png"))]


def check_pages(pdf: Path, out: Path, headings: list[str], figure_headings: set[str]) -> None:
    pages = rendered_pages(pdf, out)
    assert len(pages) == len(headings)
    for heading, page in zip(headings, pages):
        h, w = page.shape[:2]
        assert abs(w - A4_IN[0] * DPI) <= 1 and abs(h - A4_IN[1] * DPI) <= 1, (heading, w, h)  # A4 portrait
        ink = page.min(axis=2) < 235
        side = int(0.45 * DPI)
        assert not ink[:, :side].any() and not ink[:, w - side:].any(), f"{heading}: something runs into the side margin"
        foot = ink[h - int(0.72 * DPI):h - int(0.45 * DPI)]
        assert not foot.any(), f"{heading}: something runs into the bottom margin"
        body = ink[int(1.0 * DPI):h - int(0.72 * DPI)]
        assert body.mean() > 0.002, f"{heading}: a blank page"
        if heading in figure_headings:
            colour = (page.max(axis=2) - page.min(axis=2)) > 40
            assert colour.mean() > 0.0005, f"{heading}: no figure drawn"  # a page of text: 0
