"""Which texts of a drawn figure collide: titles, labels, ticks and legend entries as the rectangles they
really cover (a rotated tick label is a rotated rectangle, not its bounding box, so 45-degree labels side by
side do not count as touching). The reports thin tick labels with it, and the tests check every figure."""

from __future__ import annotations

import math

import numpy as np


def _corners(text, renderer) -> np.ndarray:
    """The four corners (display pixels) of the rectangle a text's glyphs cover, rotation included."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation() % 180
    if angle in (0, 90):
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    rotation = text.get_rotation()
    text.set_rotation(0)  # the unrotated size; the rotation keeps the box's centre where it is
    flat = text.get_window_extent(renderer)
    text.set_rotation(rotation)
    w, h = flat.width / 2, flat.height / 2
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]])
    return centre + local @ np.array([[c, s], [-s, c]])


def _separated(a: np.ndarray, b: np.ndarray, gap: float) -> bool:
    """Separating-axis test for two convex quadrilaterals, with `gap` pixels of tolerance."""
    for poly in (a, b):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-edge[1], edge[0]])
            norm = np.hypot(*axis)
            if norm == 0:
                continue
            axis /= norm
            pa, pb = a @ axis, b @ axis
            if pa.max() <= pb.min() + gap or pb.max() <= pa.min() + gap:
                return True
    return False


def visible_texts(fig) -> list:
    """Every text that is drawn: visible itself and inside visible artists (a hidden axis hides its tick
    labels without changing their own visibility, as twin axes do)."""
    from matplotlib.text import Text

    out, stack = [], [fig]
    while stack:
        artist = stack.pop()
        if not artist.get_visible():
            continue
        if isinstance(artist, Text):
            if artist.get_text().strip():
                out.append(artist)
            continue
        stack.extend(artist.get_children())
    return out


def overlapping_texts(fig, gap: float = 0.5) -> list[tuple[str, str]]:
    """Pairs of visible texts whose glyph rectangles overlap by more than `gap` pixels. Not counted: the label
    of a tick outside its axis' view (matplotlib keeps the object but draws nothing), and a text drawn twice at
    the same place (twin axes repeat their shared tick labels exactly on top of each other)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = _labels_of_ticks_out_of_view(fig)
    texts = [t for t in visible_texts(fig) if _drawn(t) and id(t) not in hidden]
    shapes = [(t.get_text(), _corners(t, renderer)) for t in texts]
    bad = []
    for i, (a, ca) in enumerate(shapes):
        for b, cb in shapes[i + 1:]:
            if a == b and np.abs(ca - cb).max() < 1.0:
                continue
            if not _separated(ca, cb, gap):
                bad.append((a, b))
    return bad


def _labels_of_ticks_out_of_view(fig) -> set[int]:
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(abs(lo), abs(hi), 1e-12)
            for ticks in (axis.get_major_ticks(), axis.get_minor_ticks()):
                for tick in ticks:
                    loc = tick.get_loc()
                    if loc is None or not (lo - eps <= loc <= hi + eps):
                        out.update((id(tick.label1), id(tick.label2)))
    return out


def _drawn(text) -> bool:
    box = text.get_window_extent()
    return box.width > 0 and box.height > 0 and np.isfinite([box.x0, box.y0, box.x1, box.y1]).all()


def thin_tick_labels(fig) -> None:
    """Blank every other tick label of an axis (repeatedly) until its labels no longer touch each other:
    sampled hyperparameters and log axes otherwise print labels on top of one another."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for minor in (False, True):
                for _ in range(6):
                    fig.canvas.draw()
                    renderer = fig.canvas.get_renderer()
                    labels = axis.get_ticklabels(minor=minor)
                    hidden = _labels_of_ticks_out_of_view(fig)
                    shown = [t for t in labels if t.get_visible() and t.get_text().strip() and _drawn(t)
                             and id(t) not in hidden]
                    shapes = [_corners(t, renderer) for t in shown]
                    if all(_separated(a, b, 0.5) for a, b in zip(shapes, shapes[1:])):
                        break
                    keep = {id(t) for t in shown[::2]}
                    locs, view = axis.get_ticklocs(minor=minor), axis.get_view_interval()
                    axis.set_ticks(locs, [t.get_text() if id(t) in keep else "" for t in labels], minor=minor)
                    axis.set_view_interval(*sorted(view), ignore=True)  # set_ticks may widen the view


__all__ = ["overlapping_texts", "thin_tick_labels", "visible_texts"]
