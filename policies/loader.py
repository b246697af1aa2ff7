"""Read, check and create policy files: YAML (safe_load rules) into `Policy`, with line numbers.

Every problem is reported as `FILE:LINE: KEY: what is wrong`, so a user can jump to it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from policies.findings import ACTIONS, DEFAULT_FAIL_ON, Severity
from policies.policy import (
    POLICY_SCHEMA_VERSION,
    SCAN_ERROR_MODES,
    AllowEntry,
    ModelRules,
    Policy,
    ScanErrorMode,
    XrayRules,
    normalise_domain,
)
from scanner.errors import UsageError

T = TypeVar("T")

SHIPPED = ("default", "strict", "permissive")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

_TOP_KEYS = (
    "schema_version",
    "name",
    "description",
    "fail_on",
    "on_scan_error",
    "xray",
    "model",
    "allowlist",
)
_XRAY_KEYS = (
    "flag_infected",
    "score_threshold",
    "target_label_blocks",
    "action",
    "flag_shortcut",
    "shortcut_action",
)
_MODEL_KEYS = (
    "max_size_mb",
    "min_opset",
    "max_opset",
    "allowed_operator_domains",
    "allow_external_data",
    "action",
)
_ALLOW_KEYS = ("sha256", "reason", "expires", "name")


# --- YAML with line numbers -------------------------------------------------------------------


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class _Seq(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """safe_load's constructors, except that mappings and sequences keep their marks, and YAML
    aliases are refused: a policy never needs them, and a few hundred bytes of nested aliases
    ("billion laughs") expand to gigabytes."""

    duplicates: list[tuple[int, str]]

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in a policy", event.start_mark
            )
        return super().compose_node(parent, index)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    data = _Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | type(None) | date):
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in data:
            # safe_load silently keeps the last value; in a policy that hides a mistake.
            loader.duplicates.append((line, str(key)))
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = line


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> Any:
    data = _Seq()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child, deep=True) for child in node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _parse_yaml(text: str, source: str) -> tuple[Any, list[tuple[int, str]]]:
    loader = _Loader(text)
    loader.duplicates = []
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise UsageError(f"{source}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{source}:1: invalid YAML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{source}: invalid YAML: nested too deeply for a policy") from None
    finally:
        loader.dispose()


# --- checking values --------------------------------------------------------------------------


class _Bad(ValueError):
    """A value of the wrong type or out of range; the message says what was expected."""


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if value is not None else "null"


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_show(value)}")
    return value


def _is_number(value: Any) -> bool:
    # bool is an int in Python but `true` is never a sensible number in a policy.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(low: float | None, high: float | None, *, nullable: bool) -> Callable[[Any], Any]:
    def check(value: Any) -> float | None:
        if value is None and nullable:
            return None
        if not _is_number(value):
            raise _Bad(f"expected a number{' or null' if nullable else ''}, got {_show(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise _Bad(f"expected a number in [{low:g}, {high:g}], got {value!r}")
        return float(value)

    return check


def _positive_number(value: Any) -> float | None:
    if value is None:
        return None
    if not _is_number(value):
        raise _Bad(f"expected a positive number or null, got {_show(value)}")
    if value <= 0:
        raise _Bad(f"expected a positive number or null, got {value!r}")
    return float(value)


def _opset(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise _Bad(f"expected an opset number (an integer from 1) or null, got {_show(value)}")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Bad(f"expected one of {', '.join(options)}, got {_show(value)}")
        return value

    return check


def _severity(value: Any) -> Severity:
    try:
        if isinstance(value, str):
            return Severity.parse(value)
    except ValueError:
        pass
    names = ", ".join(s.name.lower() for s in Severity)
    raise _Bad(f"expected one of {names}, got {_show(value)}")


def _text(*, required: bool) -> Callable[[Any], Any]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _Bad(f"expected a string, got {_show(value)}")
        if required and not value.strip():
            raise _Bad("expected a non-empty string")
        return value.strip()

    return check


def _domains(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise _Bad(f"expected a list of operator domain names or null, got {_show(value)}")
    return tuple(dict.fromkeys(normalise_domain(d) for d in value))


def _sha256(value: Any) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise _Bad(f"expected 64 hexadecimal digits (a SHA-256), got {_show(value)}")
    return value.lower()


def _date(value: Any) -> date:
    # YAML turns 2026-12-31 into a date by itself; a quoted one arrives as a string.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Bad(f"expected a date as YYYY-MM-DD, got {_show(value)}")


# --- reading sections -------------------------------------------------------------------------


class _Reader:
    """Reads one YAML mapping, collecting every problem instead of stopping at the first."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems

    def problem(self, line: int, key: str, message: str) -> None:
        self.problems.append(f"{self.source}:{line}: {key}: {message}")

    def section(self, value: Any, path: str, line: int, keys: tuple[str, ...]) -> _Map:
        """`value` as a mapping with only `keys`; a problem (and an empty map) otherwise."""
        if value is None:
            empty = _Map()
            empty.line, empty.key_lines = line, {}
            return empty
        if not isinstance(value, _Map):
            self.problem(line, path or "(document)", f"expected a mapping, got {_show(value)}")
            empty = _Map()
            empty.line, empty.key_lines = line, {}
            return empty
        for key in value:
            if key not in keys:
                name = f"{path}.{key}" if path else str(key)
                hint = difflib.get_close_matches(str(key), keys, n=1)
                maybe = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.problem(
                    value.key_lines[key], name, f"unknown key{maybe}; allowed: {', '.join(keys)}"
                )
        return value

    def get(self, m: _Map, path: str, key: str, check: Callable[[Any], T], default: T) -> T:
        if key not in m:
            return default
        try:
            return check(m[key])
        except _Bad as exc:
            self.problem(m.key_lines[key], f"{path}.{key}" if path else key, str(exc))
            return default

    def require(self, m: _Map, path: str, key: str, check: Callable[[Any], T], default: T) -> T:
        if key not in m:
            self.problem(m.line, f"{path}.{key}" if path else key, "missing required key")
            return default
        return self.get(m, path, key, check, default)


def _read_xray(r: _Reader, root: _Map) -> XrayRules:
    m = r.section(root.get("xray"), "xray", root.key_lines.get("xray", root.line), _XRAY_KEYS)
    d = XrayRules()
    return XrayRules(
        flag_infected=r.get(m, "xray", "flag_infected", _bool, d.flag_infected),
        score_threshold=r.get(
            m, "xray", "score_threshold", _number(0.0, 1.0, nullable=True), d.score_threshold
        ),
        target_label_blocks=r.get(m, "xray", "target_label_blocks", _bool, d.target_label_blocks),
        action=r.get(m, "xray", "action", _choice(ACTIONS), d.action),
        flag_shortcut=r.get(m, "xray", "flag_shortcut", _bool, d.flag_shortcut),
        shortcut_action=r.get(m, "xray", "shortcut_action", _choice(ACTIONS), d.shortcut_action),
    )


def _read_model(r: _Reader, root: _Map) -> ModelRules:
    m = r.section(root.get("model"), "model", root.key_lines.get("model", root.line), _MODEL_KEYS)
    d = ModelRules()
    rules = ModelRules(
        max_size_mb=r.get(m, "model", "max_size_mb", _positive_number, d.max_size_mb),
        min_opset=r.get(m, "model", "min_opset", _opset, d.min_opset),
        max_opset=r.get(m, "model", "max_opset", _opset, d.max_opset),
        allowed_operator_domains=r.get(
            m, "model", "allowed_operator_domains", _domains, d.allowed_operator_domains
        ),
        allow_external_data=r.get(m, "model", "allow_external_data", _bool, d.allow_external_data),
        action=r.get(m, "model", "action", _choice(ACTIONS), d.action),
    )
    low, high = rules.min_opset, rules.max_opset
    if low is not None and high is not None and low > high:
        r.problem(
            m.key_lines["max_opset"],
            "model.max_opset",
            f"is below model.min_opset ({high} < {low})",
        )
    return rules


def _read_allowlist(r: _Reader, root: _Map) -> tuple[AllowEntry, ...]:
    value = root.get("allowlist")
    line = root.key_lines.get("allowlist", root.line)
    if value is None:
        return ()
    if not isinstance(value, _Seq):
        r.problem(line, "allowlist", f"expected a list of entries, got {_show(value)}")
        return ()
    entries: list[AllowEntry] = []
    seen: dict[str, int] = {}
    for i, (item, item_line) in enumerate(zip(value, value.item_lines, strict=True)):
        path = f"allowlist[{i}]"
        m = r.section(item, path, item_line, _ALLOW_KEYS)
        if not isinstance(item, _Map):
            continue
        sha = r.require(m, path, "sha256", _sha256, "")
        reason = r.require(m, path, "reason", _text(required=True), "")
        expires = r.require(m, path, "expires", _date, date.min)
        name = r.get(m, path, "name", _text(required=False), "")
        if not (sha and reason and expires != date.min):
            continue
        if sha in seen:
            r.problem(
                m.key_lines["sha256"],
                f"{path}.sha256",
                f"duplicate entry (first at line {seen[sha]})",
            )
            continue
        seen[sha] = m.key_lines["sha256"]
        entries.append(AllowEntry(sha, reason, expires, name=name, line=m.line))
    return tuple(entries)


def _read_policy(root: Any, source: str, problems: list[str]) -> Policy:
    r = _Reader(source, problems)
    if root is None:
        r.problem(
            1, "schema_version", "empty policy (expected a mapping with schema_version, name)"
        )
        return Policy(name="", source=source)
    m = r.section(root, "", getattr(root, "line", 1), _TOP_KEYS)
    if not isinstance(root, _Map):
        return Policy(name="", source=source)

    def _version(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Bad(f"expected an integer, got {_show(value)}")
        if value != POLICY_SCHEMA_VERSION:
            raise _Bad(f"unsupported version {value} (this bdscan reads {POLICY_SCHEMA_VERSION})")
        return value

    version = r.require(m, "", "schema_version", _version, POLICY_SCHEMA_VERSION)
    name = r.require(m, "", "name", _text(required=True), "")
    description = r.get(m, "", "description", _text(required=False), "")
    fail_on = r.get(m, "", "fail_on", _severity, DEFAULT_FAIL_ON)
    on_error: ScanErrorMode = r.get(m, "", "on_scan_error", _choice(SCAN_ERROR_MODES), "error")
    return Policy(
        name=name,
        schema_version=version,
        description=description,
        fail_on=fail_on,
        on_scan_error=on_error,
        xray=_read_xray(r, m),
        model=_read_model(r, m),
        allowlist=_read_allowlist(r, m),
        source=source,
    )


def _parse(text: str, source: str) -> tuple[Policy, list[str]]:
    root, duplicates = _parse_yaml(text, source)
    problems = [f"{source}:{line}: {key}: duplicate key" for line, key in duplicates]
    policy = _read_policy(root, source, problems)
    problems.sort(key=_line_of)
    return policy, problems


def _line_of(problem: str) -> int:
    # Problems start with "SOURCE:LINE:"; SOURCE may itself contain colons (Windows drives).
    match = re.search(r":(\d+): ", problem)
    return int(match.group(1)) if match else 0


# --- public API -------------------------------------------------------------------------------


def shipped_policy_path(name: str) -> Path:
    """Where the shipped policy `name` (default, strict, permissive) lies."""
    stem = name.removesuffix(".yaml")
    if stem not in SHIPPED:
        raise UsageError(f"{name}: not a shipped policy (shipped: {', '.join(SHIPPED)})")
    return Path(str(resources.files("policies").joinpath(f"{stem}.yaml")))


def _resolve(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if path.exists():
        return path
    text = str(path_or_name)
    if "/" not in text and "\\" not in text and text.removesuffix(".yaml") in SHIPPED:
        return shipped_policy_path(text)
    raise UsageError(
        f"{text}: no such policy file, and not a shipped policy name "
        f"(shipped: {', '.join(SHIPPED)})"
    )


# A policy is a few dozen lines; anything near this is not one, and would only cost memory.
MAX_POLICY_BYTES = 1 << 20


def _read_text(path: Path) -> str:
    try:
        if path.is_file() and path.stat().st_size > MAX_POLICY_BYTES:
            raise UsageError(
                f"{path}: {path.stat().st_size} bytes, larger than a policy file can be"
                f" ({MAX_POLICY_BYTES} bytes)"
            )
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, expected a YAML policy file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text, expected a YAML policy file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the policy file: {exc.strerror}") from None


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse policy YAML text; `source` names it in messages. Raises UsageError on any problem."""
    policy, problems = _parse(text, source)
    if problems:
        more = len(problems) - 1
        tail = f" (and {more} more: run `bdscan policy lint {source}`)" if more else ""
        raise UsageError(problems[0] + tail)
    return policy


def load_policy(path_or_name: str | Path) -> Policy:
    """A policy from a YAML file, or a shipped one by bare name (`default`, `strict`, ...)."""
    path = _resolve(path_or_name)
    return parse_policy(_read_text(path), str(path))


def lint_policy(path_or_name: str | Path, *, today: date | None = None) -> list[str]:
    """Every problem in a policy file, one `FILE:LINE: KEY: problem` line each; [] when fine.

    Besides what `load_policy` rejects, lint reports allow-list entries that have expired and a
    policy under which no X-ray finding can fail a model.
    """
    try:
        path = _resolve(path_or_name)
        source = str(path)
        policy, problems = _parse(_read_text(path), source)
    except UsageError as exc:
        return [str(exc)]
    if problems:
        return problems
    today = today or date.today()
    for i, entry in enumerate(policy.allowlist):
        if entry.expired(today):
            problems.append(
                f"{source}:{entry.line}: allowlist[{i}].expires: expired on {entry.expires}; "
                "the entry no longer applies (renew or remove it)"
            )
    xray = policy.xray
    if not (xray.flag_infected or xray.score_threshold is not None or xray.target_label_blocks):
        problems.append(
            f"{source}:1: xray: every X-ray rule is off; this policy never flags a backdoor"
        )
    return problems


def init_policy_text() -> str:
    """A commented starter policy (a copy of the shipped default, renamed) for `policy init`."""
    text = shipped_policy_path("default").read_text(encoding="utf-8")
    return re.sub(r"(?m)^name: default$", "name: my-policy", text, count=1)
