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


def _command(cmd: click.Command, path: str, out: list[str]) -> None:
    out += [f"## `{path}`", "", inspect.cleandoc(cmd.help or "").strip(), ""]
    ctx = click.Context(cmd, info_name=path)
    out.append(f"```\n{cmd.get_usage(ctx)}\n```\n")
    rows = []
    for p in cmd.params:
        if isinstance(p, click.Argument):
            rows.append((f"`{p.human_readable_name}`", "argument", ""))
            continue
        if not isinstance(p, click.Option):
            continue
        flags = " / ".join(f"`{o}`" for o in (*p.opts, *p.secondary_opts))
        default = "" if p.default in (None, False, ()) or p.is_flag else f"`{p.default}`"
        rows.append((flags, (p.help or "").replace("|", "\\|").replace("\n", " "), default))
    if rows:
        out += ["| option | what | default |", "|---|---|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
        out.append("")
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            _command(cmd.commands[name], f"{path} {name}", out)


def cli_page() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from the click commands (`docs/tools/gen_reference.py`).",
        "",
    ]
    _command(cli, "bdscan", out)
    return "\n".join(out) + "\n"


def _schema_rows(schema: dict[str, Any], prefix: str, out: list[str], depth: int = 0) -> None:
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", prop.get("$ref", "").split("/")[-1] or "object")
        if isinstance(kind, list):
            kind = " or ".join(kind)
        enum = prop.get("enum")
        what = (prop.get("description") or "").replace("|", "\\|")
        if enum:
            what = (what + " One of: " + ", ".join(f"`{e}`" for e in enum)).strip()
        out.append(f"| `{prefix}{name}` | {kind} | {what} |")
        if depth < 3:
            _schema_rows(prop, f"{prefix}{name}.", out, depth + 1)
            items = prop.get("items")
            if isinstance(items, dict):
                _schema_rows(items, f"{prefix}{name}[].", out, depth + 1)


def report_page() -> str:
    out = ["# Report reference", "", "Generated from the JSON schemas in `exporters/schemas/`.", ""]
    for name in ("report.schema.json", "summary.schema.json"):
        schema = json.loads((ROOT / "exporters" / "schemas" / name).read_text())
        out += [f"## `{name}`", "", schema.get("description", "").strip(), ""]
        out += ["| field | type | meaning |", "|---|---|---|"]
        _schema_rows(schema, "", out)
        for key, sub in (schema.get("$defs") or {}).items():
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
