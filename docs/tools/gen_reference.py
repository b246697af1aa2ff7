"""Write docs/reference/*.md from the code, so the reference cannot drift from it:
the CLI from the click command tree, the report fields from the JSON schemas, the policy rules
from the rule registry. Run by `make docs` before MkDocs; the pages are build output
(gitignored), never edited by hand."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from policies.rules import RULES  # noqa: E402
from scanner.cli import cli  # noqa: E402

OUT = ROOT / "docs" / "reference"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option_row(p: click.Option, ctx: click.Context) -> tuple[str, str, str] | None:
    # click's own rendering of the option (the one `--help` prints): flags with their metavar,
    # then the help text and, in brackets, default, range and "required".
    record = p.get_help_record(ctx)
    if record is None:  # hidden
        return None
    flags, text = record
    extras = ""
    if text.endswith("]") and "[" in text:
        head, sep, tail = text.rpartition("  [")
        if not sep and text.startswith("["):
            head, tail = "", text[1:]
        if sep or text.startswith("["):
            text, extras = head, tail[:-1]
    if "default:" not in extras and not p.required and not p.is_flag:
        default = p.get_default(ctx, call=False)
        if isinstance(default, str | int | float) and default != "":
            extras = "; ".join(x for x in (f"default: {default}", extras) if x)
    flags = " / ".join(f"`{f.strip()}`" for f in flags.split(" / "))
    return flags, _cell(text), _cell(extras)


def _command(cmd: click.Command, path: str, out: list[str]) -> None:
    if cmd.hidden:
        return
    out += [f"## `{path}`", "", inspect.cleandoc(cmd.help or "").strip(), ""]
    ctx = click.Context(cmd, info_name=path)
    out.append(f"```\n{cmd.get_usage(ctx)}\n```\n")
    rows = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            rows.append((f"`{p.make_metavar(ctx)}`", "argument", ""))
        elif isinstance(p, click.Option) and (row := _option_row(p, ctx)):
            rows.append(row)
    if rows:
        out += ["| option | what | default, range |", "|---|---|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        out.append("")
    if isinstance(cmd, click.Group):
        # list/get_command, not .commands: the top group also lists commands the lab registers.
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                _command(sub, f"{path} {name}", out)


def cli_page() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from the click commands (`docs/tools/gen_reference.py`); the same text as",
        "`bdscan COMMAND --help`.",
        "",
    ]
    _command(cli, "bdscan", out)
    return "\n".join(out) + "\n"


def _kind(prop: dict[str, Any]) -> str:
    if "type" in prop:
        kind = prop["type"]
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        items = prop.get("items")
        if kind == "array" and isinstance(items, dict) and "type" in items:
            kind = f"array of {_kind(items)}"
        return kind
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        names = {bool: "boolean", int: "integer", float: "number", str: "string"}
        kinds = dict.fromkeys(names.get(type(e), "null") for e in prop["enum"])
        return " or ".join(kinds)
    if "$ref" in prop:
        ref = prop["$ref"]
        if ref.startswith("urn:bdscan:schema:report"):
            ref = "report" + ref.partition("#")[2].replace("/", ".")
        return f"see `{ref.removeprefix('#/').replace('/', '.')}`"
    alternatives = prop.get("oneOf") or prop.get("anyOf")
    if alternatives:
        return " or ".join(_kind(a) for a in alternatives)
    return "object" if "properties" in prop else "any"


def _schema_rows(schema: dict[str, Any], prefix: str, out: list[str], depth: int = 0) -> None:
    required = set(schema.get("required") or ())
    for name, prop in (schema.get("properties") or {}).items():
        what = (prop.get("description") or "").strip()
        if what and what[-1] not in ".:)":
            what += "."
        if "enum" in prop:
            what += " One of: " + ", ".join(f"`{json.dumps(e)}`" for e in prop["enum"]) + "."
        bounds = [f"{k} {prop[k]}" for k in ("minimum", "maximum") if k in prop]
        if bounds:
            what += " (" + ", ".join(bounds) + ")"
        flag = "yes" if name in required else ""
        out.append(f"| `{prefix}{name}` | {_cell(_kind(prop))} | {flag} | {_cell(what)} |")
        if depth < 3:
            _schema_rows(prop, f"{prefix}{name}.", out, depth + 1)
            items = prop.get("items")
            if isinstance(items, dict):
                _schema_rows(items, f"{prefix}{name}[].", out, depth + 1)


def report_page() -> str:
    out = [
        "# Report reference",
        "",
        "Generated from the JSON schemas in `exporters/schemas/` (`docs/tools/gen_reference.py`).",
        "SARIF output follows the standard SARIF 2.1.0 schema, vendored in the same folder.",
        "",
    ]
    for name in ("report.schema.json", "summary.schema.json"):
        schema = json.loads((ROOT / "exporters" / "schemas" / name).read_text())
        out += [f"## `{name}`", "", schema.get("description", "").strip(), ""]
        out += ["| field | type | required | meaning |", "|---|---|---|---|"]
        _schema_rows(schema, "", out)
        for key, sub in (schema.get("$defs") or {}).items():
            out.append(
                f"| `$defs.{key}` | {_cell(_kind(sub))} |  | {_cell(sub.get('description', ''))} |"
            )
            _schema_rows(sub, f"$defs.{key}.", out)
        out.append("")
    return "\n".join(out) + "\n"


def rules_page() -> str:
    out = [
        "# Policy rules",
        "",
        "Generated from the rule registry (`policies/rules.py`, `RULES`).",
        "",
    ]
    out += ["| id | name | severity | what |", "|---|---|---|---|"]
    for rule_id, rule in sorted(RULES.items()):
        doc = inspect.cleandoc(type(rule).__doc__ or "").replace("\n\n", " ").replace("\n", " ")
        doc = doc.replace("|", "\\|")
        out.append(f"| {rule_id} | `{rule.name}` | {rule.severity.name} | {doc} |")
    return "\n".join(out) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("cli.md", cli_page()),
        ("report.md", report_page()),
        ("policy-rules.md", rules_page()),
    ):
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
