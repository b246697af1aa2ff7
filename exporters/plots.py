"""Decision-region maps as PNG (Pillow only): one picture per X-ray plane, as the paper draws them.

Each label has a fixed colour (the same in every plane and model), the three anchors are numbered
white dots, and the suspected target label is named in the legend. `write_plots` is `--plots DIR`.
"""

from __future__ import annotations

import colorsys
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from exporters.atomic import atomic_write_bytes
from scanner.errors import OutputError
from scanner.report import ModelOutcome, PlaneResult

RGB = tuple[int, int, int]

# tab20's order: the ten strong colours first, so that small label sets stay far apart.
_PALETTE: tuple[str, ...] = (
    "1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "7f7f7f", "bcbd22",
    "17becf", "aec7e8", "ffbb78", "98df8a", "ff9896", "c5b0d5", "c49c94", "f7b6d2", "c7c7c7",
    "dbdb8d", "9edae5",
)  # fmt: skip

_TARGET_OUTLINE: RGB = (0, 0, 0)
_BACKGROUND: RGB = (255, 255, 255)
_TEXT: RGB = (20, 20, 20)


def label_colour(label: int) -> RGB:
    """The fixed colour of a label: tab20 for 0..19, then golden-ratio hues (still distinct)."""
    if 0 <= label < len(_PALETTE):
        h = _PALETTE[label]
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    hue = (label * 0.6180339887) % 1.0
    sat, val = (0.65, 0.85) if label % 2 else (0.45, 0.7)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return (round(r * 255), round(g * 255), round(b * 255))


def hex_colour(label: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*label_colour(label))


# --- where the anchors are ----------------------------------------------------------------------


def anchor_cells(plane: PlaneResult) -> list[tuple[int, int]]:
    """The grid cells (row, col) of the three anchors as the scan recorded them; none for a
    report that does not carry them (its anchors are then not drawn)."""
    return [(int(r), int(c)) for r, c in plane.anchor_cells or ()]


# --- drawing ------------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def render_plane(
    plane: PlaneResult,
    *,
    target_label: int | None = None,
    legend: bool = True,
    title: str | None = None,
    cell_px: int | None = None,
) -> Image.Image:
    """The plane's label map as an RGB image, anchors marked; with a legend and title if asked.

    Raises ValueError when the report did not keep this plane's label map.
    """
    label_map = plane.decoded_label_map()
    if label_map is None:
        raise ValueError("this plane's label map was not kept in the report")
    rows, cols = label_map.shape
    px = cell_px or max(1, 320 // max(rows, cols))
    labels = sorted(int(v) for v in np.unique(label_map))
    lut = np.zeros((max(labels) + 1, 3), dtype=np.uint8)
    for label in labels:
        lut[label] = label_colour(label)
    picture = Image.fromarray(lut[label_map]).resize(
        (cols * px, rows * px), Image.Resampling.NEAREST
    )

    draw = ImageDraw.Draw(picture)
    font = _font(max(10, px * 4))
    cells = anchor_cells(plane)
    exact = bool(cells)
    radius = max(4, px * 2)
    for number, (r, c) in enumerate(cells, start=1):
        x, y = c * px + px // 2, r * px + px // 2
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill="white", outline="black"
        )
        draw.text((x + radius + 2, y - radius - 2), str(number), fill="black", font=font,
                  stroke_width=2, stroke_fill="white")  # fmt: skip

    if not (legend or title):
        return picture
    return _frame(picture, labels, plane, target_label, legend=legend, title=title, exact=exact)


def _frame(
    picture: Image.Image,
    labels: list[int],
    plane: PlaneResult,
    target: int | None,
    *,
    legend: bool,
    title: str | None,
    exact: bool,
) -> Image.Image:
    font = _font(13)
    line = 18
    shown = sorted({*labels, *plane.anchor_labels, *([target] if target is not None else [])})
    legend_w = 190 if legend else 0
    title_h = line + 6 if title else 0
    legend_h = (len(shown) + 4) * line if legend else 0
    width = picture.width + legend_w + 16
    height = max(picture.height, legend_h) + title_h + 16
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    canvas.paste(picture, (8, 8 + title_h))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((8, 6), title, fill=_TEXT, font=font)
    if legend:
        x, y = picture.width + 20, 8 + title_h
        for label in shown:
            outline = _TARGET_OUTLINE if label == target else (90, 90, 90)
            draw.rectangle((x, y + 2, x + 14, y + 14), fill=label_colour(label), outline=outline,
                           width=3 if label == target else 1)  # fmt: skip
            text = f"label {label}"
            if label == target:
                text += "  suspected target"
            draw.text((x + 20, y + 1), text, fill=_TEXT, font=font)
            y += line
        y += line // 2
        anchors = ", ".join(
            f"{n}: #{idx} ({lab})"
            for n, (idx, lab) in enumerate(zip(plane.anchors, plane.anchor_labels, strict=True), 1)
        )
        draw.text((x, y), "anchors (sample, label)", fill=_TEXT, font=font)
        draw.text((x, y + line), anchors, fill=_TEXT, font=_font(11))
        if not exact:
            draw.text((x, y + 2 * line), "anchors not recorded", fill=_TEXT, font=_font(11))
    return canvas


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def plane_title(index: int, plane: PlaneResult) -> str:
    return f"plane {index + 1}: RE {plane.re:.3f}, ATS {plane.ats:.3f}, R = {plane.resolution}"


# --- --plots DIR --------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "model"


def write_plots(outcomes: Sequence[ModelOutcome], folder: str | Path) -> list[Path]:
    """One PNG per plane with a kept label map: FOLDER/<model>-<sha8>/plane-NN.png.

    Returns the files written. Models that errored, and planes without a label map, are skipped.
    """
    root = Path(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{root}: cannot create the plots folder: {exc.strerror}") from None
    written: list[Path] = []
    for outcome in outcomes:
        report = outcome.report
        if report is None:
            continue
        sub = root / f"{_slug(Path(outcome.path).stem)}-{report.model.sha256[:8]}"
        for i, plane in enumerate(report.xray.planes):
            if plane.label_map is None:
                continue
            image = render_plane(
                plane, target_label=report.xray.target_label, title=plane_title(i, plane)
            )
            try:
                sub.mkdir(exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{sub}: cannot create the folder: {exc.strerror}") from None
            path = sub / f"plane-{i + 1:02d}.png"
            atomic_write_bytes(path, png_bytes(image))
            written.append(path)
    return written
