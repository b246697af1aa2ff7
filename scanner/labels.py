"""Class names: from `--labels FILE`, an image folder's classes.txt, or the ONNX file's metadata.

Reports keep the numbers (JSON `target_label` stays an integer) and add the names beside them;
messages say "label 0 (T-shirt/top)". Names from a model file are input like any other: parsed
without evaluating anything, control characters removed, length and count capped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from scanner.errors import DataError

# Metadata keys exporters write class names under (Ultralytics: names; others: classes, labels).
METADATA_KEYS = ("names", "classes", "class_names", "labels")
MAX_NAME_CHARS = 80
MAX_NAMES = 100_000
MAX_LABEL_FILE_BYTES = 8 << 20

_DICT_ENTRY = re.compile(r"""(\d+)\s*:\s*(?:'([^']*)'|"([^"]*)")""")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _clean(name: object) -> str:
    text = _CONTROL.sub("", str(name)).strip()
    return text[:MAX_NAME_CHARS]


def parse_names(text: str) -> tuple[str, ...] | None:
    """Names from a JSON list, a {index: name} mapping (JSON or Python-literal style, read by a
    pattern, never evaluated), or one name per line / comma-separated. None when none parse."""
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, list) and value and all(isinstance(v, str | int) for v in value):
        names = [_clean(v) for v in value]
    elif isinstance(value, dict) and value:
        try:
            pairs = {int(k): _clean(v) for k, v in value.items()}
        except (TypeError, ValueError):
            return None
        names = [pairs.get(i, str(i)) for i in range(max(pairs) + 1)] if pairs else []
    elif text.startswith("{"):
        found = {
            int(m.group(1)): _clean(m.group(2) or m.group(3)) for m in _DICT_ENTRY.finditer(text)
        }
        if not found or max(found) >= MAX_NAMES:
            return None
        names = [found.get(i, str(i)) for i in range(max(found) + 1)]
    else:
        sep = "\n" if "\n" in text else ","
        names = [_clean(v) for v in text.split(sep) if v.strip()]
        if len(names) < 2:
            return None
    if not names or len(names) > MAX_NAMES:
        return None
    return tuple(names)


def names_from_metadata(metadata: dict[str, str]) -> tuple[str, ...] | None:
    """Class names an exporter left in the ONNX file's metadata_props, if any parse."""
    lowered = {k.lower(): v for k, v in metadata.items()}
    for key in METADATA_KEYS:
        if key in lowered:
            names = parse_names(lowered[key])
            if names:
                return names
    return None


def load_label_file(path: str | Path) -> tuple[str, ...]:
    """`--labels FILE`: one name per line (line i is label i), or a JSON list or mapping."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_LABEL_FILE_BYTES:
            raise DataError(
                f"{p}: larger than {MAX_LABEL_FILE_BYTES >> 20} MB; expected class names"
            )
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: no such file (expected class names, one per line)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: not a readable text file of class names ({e})") from None
    if text.strip().startswith(("[", "{")):
        names = parse_names(text)
    else:
        lines = [_clean(line) for line in text.splitlines() if line.strip()]
        names = tuple(lines) if 0 < len(lines) <= MAX_NAMES else None
    if not names:
        raise DataError(f"{p}: no class names found (expected one per line, or a JSON list)")
    return names


def label_text(label: int | None, names: tuple[str, ...] | list[str] | None) -> str:
    """ "label 3 (Dress)" when a name is known, "label 3" otherwise."""
    if label is None:
        return "no label"
    if names and 0 <= label < len(names) and names[label] and names[label] != str(label):
        return f"label {label} ({names[label]})"
    return f"label {label}"
