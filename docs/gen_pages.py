"""Pages generated at every ``mkdocs build`` (mkdocs-gen-files), so that they never drift.

* ``index.md`` and ``performance.md``: sections of the README;
* ``cli.md``: every command of ``opportunity-map`` from :func:`opportunity_map.cli.build_parser`;
* ``data-model.md``: tables, columns, Italian aliases and vocabularies from
  :mod:`opportunity_map.schema`;
* ``reference/*.md``: one mkdocstrings page per public module;
* ``notebooks/*.ipynb``: the executed notebooks of ``examples/`` (rendered by mkdocs-jupyter).
"""

from __future__ import annotations

import argparse
import html
import re
from collections.abc import Iterable
from pathlib import Path

import mkdocs_gen_files

from opportunity_map import cli, schema

ROOT = Path(__file__).resolve().parent.parent

#: Public modules documented in the API reference, with their page titles.
API_MODULES: tuple[tuple[str, str], ...] = (
    ("io", "Load, validate, save"),
    ("model", "OpportunityMap"),
    ("network", "The network at a date"),
    ("metrics", "Network metrics"),
    ("evaluation", "Evaluation against the baseline"),
    ("plan", "Evaluation plan"),
    ("power", "Power of the design"),
    ("finder", "Finder and coverage"),
    ("changes", "Changes between Tavoli"),
    ("maps", "Maps"),
    ("report", "Evaluation report"),
    ("pipeline", "Build and export"),
    ("tavolo", "Tavolo di rete"),
    ("pack", "Tavolo meeting pack"),
    ("template", "Excel template"),
    ("geography", "Geography"),
    ("schema", "Data model (schema)"),
    ("_errors", "Errors"),
)

NOTEBOOKS: tuple[str, ...] = ("ricercatori.ipynb", "gis.ipynb")


# --------------------------------------------------------------------------- README


def readme_section(title: str | None) -> str:
    """The README's text before its first ``##`` heading (``None``) or one ``##`` section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    if title is None:
        return parts[0]
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        if heading.strip() == title:
            return f"# {heading.strip()}\n{body}"
    msg = f"README.md has no section {title!r}"
    raise KeyError(msg)


def write_home() -> None:
    intro = readme_section(None)
    with mkdocs_gen_files.open("index.md", "w") as f:
        f.write(intro.rstrip() + "\n\n")
        f.write(
            "## Where to start\n\n"
            "* [Install](install.md) the library and the `opportunity-map` command;\n"
            "* [Getting started](getting-started.md): the first map, in Python and on the "
            "command line;\n"
            "* the [data model](data-model.md): tables, columns, Italian headers and "
            "vocabularies;\n"
            "* the [command line](cli.md) and the [Python API](reference/index.md);\n"
            "* the notebooks: [a researcher's tour](notebooks/ricercatori.ipynb) and "
            "[a GIS tour](notebooks/gis.ipynb);\n"
            "* the [evaluation method](evaluation.md) behind the +30% target, the "
            "[maps](maps.md), [the GeoPackage in QGIS](qgis.md);\n"
            "* for antenne territoriali: the [guida per le antenne](guida-antenne.md) "
            "(in Italian).\n"
        )


def write_performance() -> None:
    with mkdocs_gen_files.open("performance.md", "w") as f:
        f.write(readme_section("Performance"))
        f.write("\nAt national scale, see [Scale](scale.md).\n")


# --------------------------------------------------------------------------- CLI


def _cell(text: object) -> str:
    """Text for a markdown table cell (one line, HTML-escaped, pipes escaped)."""
    one_line = " ".join(str(text).split()).replace("%%", "%")
    return html.escape(one_line, quote=False).replace("|", "\\|")


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = ""
    if action.nargs != 0:
        metavar = " " + str(action.metavar or action.dest.upper())
    return ", ".join(f"`{opt}{metavar}`" for opt in action.option_strings)


def _default(action: argparse.Action) -> str:
    if action.required:
        return "obbligatorio"
    if action.default in (None, False, argparse.SUPPRESS) or action.nargs == 0:
        return ""
    if isinstance(action.default, list | tuple):
        return ", ".join(f"`{v}`" for v in action.default) if action.default else ""
    return f"`{action.default}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    return _cell(parser._get_formatter()._expand_help(action))


def _actions_table(parser: argparse.ArgumentParser,
                   actions: Iterable[argparse.Action]) -> list[str]:
    rows = ["| argomento / opzione | valore predefinito | descrizione |", "| --- | --- | --- |"]
    for action in actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        rows.append(f"| {_flags(action)} | {_default(action)} | {_help(parser, action)} |")
    return rows


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def write_cli() -> None:
    parser = cli.build_parser()
    commands = _subcommands(parser)
    lines = [
        "# Command line reference",
        "",
        "Generated at every build of this site from the parser of the `opportunity-map` "
        "command (`opportunity_map.cli.build_parser()`), so it says exactly what "
        "`opportunity-map COMANDO --help` says, in Italian as the tool speaks.",
        "",
        "Exit status: 0 done, 1 data errors, 2 usage errors, 130 interrupted (Ctrl-C). "
        "Dates are accepted as `gg/mm/aaaa` or `aaaa-mm-gg`.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
        "",
        "| comando | descrizione |",
        "| --- | --- |",
    ]
    lines += [f"| [`{name}`](#{name}) | {_cell(text)} |" for name, text, _ in commands]
    lines.append("")
    for name, text, sub in commands:
        lines += [f"## `{name}` {{#{name}}}", ""]
        summary = _cell(sub.description or text)
        lines += [summary[:1].upper() + summary[1:], ""]
        lines += ["```text", sub.format_usage().strip(), "```", ""]
        lines += _actions_table(sub, sub._actions)
        if sub.epilog:
            lines += ["", "```text", sub.epilog.strip(), "```"]
        lines += [
            "",
            f"??? note \"`opportunity-map {name} --help`\"",
            "",
            "    ```text",
            *("    " + line if line else "" for line in sub.format_help().rstrip().splitlines()),
            "    ```",
            "",
        ]
    with mkdocs_gen_files.open("cli.md", "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- data model


def _code_list(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def write_data_model() -> None:
    lines = [
        "# Data model",
        "",
        "Generated at every build of this site from `opportunity_map.schema`, the public "
        "contract of a *mappa delle opportunità*.",
        "",
        (schema.__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "!!! note \"A tie (legame)\"",
        "",
        f"    {schema.TIE_DEFINITION}",
        "",
        "## Tables",
        "",
    ]
    for table in schema.TABLES.values():
        lines += [
            f"### `{table.name}` ({table.italian})",
            "",
            f"File, sheet or layer names accepted: {_code_list(table.file_names)}; "
            + ("required." if table.required else "optional."),
            "",
            "| column | Italian header | other accepted headers | type | required | "
            "description (Italian) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in table.columns:
            others = [a for a in c.aliases if a != c.italian]
            lines.append(
                f"| `{c.name}` | `{c.italian}` | {_code_list(others)} | {c.type} | "
                f"{'yes' if c.required else ''} | {_cell(c.description)} |"
            )
        lines.append("")
    lines += [
        "Headers are matched after `normalize_header` (case, accents, spaces and punctuation "
        "ignored). Columns the library does not know are kept and written back.",
        "",
        "## Vocabularies",
        "",
        "### Actor kinds (`actors.kind`) and groups",
        "",
        "| kind | Italian label | group |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{k}` | {_cell(label)} | `{schema.KIND_TO_GROUP[k]}` |"
        for k, label in schema.ACTOR_KIND_LABELS.items()
    ]
    lines += ["", "### Groups", "",
              "The five groups the project measures (block densities, E-I index).", "",
              "| group | Italian label |", "| --- | --- |"]
    lines += [f"| `{g}` | {_cell(label)} |" for g, label in schema.GROUP_LABELS.items()]
    lines += ["", "### Opportunity types (`opportunities.type`)", "",
              "| type | Italian label |", "| --- | --- |"]
    lines += [f"| `{t}` | {_cell(label)} |" for t, label in schema.OPPORTUNITY_TYPE_LABELS.items()]
    lines += ["", "### Relation kinds (`relations.kind`)", "",
              "| kind | Italian label |", "| --- | --- |"]
    lines += [f"| `{k}` | {_cell(label)} |" for k, label in schema.RELATION_KIND_LABELS.items()]
    lines += ["", "### Levels of collaboration (`relations.level`, PARTNER scale)", "",
              "| level | Italian label |", "| --- | --- |"]
    lines += [f"| {lv} | {_cell(label)} |" for lv, label in schema.LEVEL_LABELS.items()]
    lines += ["", "Vocabulary values are matched forgivingly too (case, accents, spaces); an "
              "unknown value is an error naming the closest valid one.", ""]
    with mkdocs_gen_files.open("data-model.md", "w") as f:
        f.write("\n".join(lines))


# --------------------------------------------------------------------------- API, notebooks


def write_api() -> None:
    index = [
        "# Python API",
        "",
        "Generated from the numpydoc docstrings. Everything listed in "
        "`opportunity_map.__all__` is importable from the package itself "
        "(`import opportunity_map as om`; `om.load`, `om.evaluate`, ...); the pages below "
        "document it module by module.",
        "",
        "```python",
        "import opportunity_map as om",
        "",
        "m = om.load(\"data/ambiti\")",
        "ev = om.evaluate(m, baseline=\"2026-06-30\", as_of=\"2027-12-31\", seed=1)",
        "```",
        "",
        "| module | |",
        "| --- | --- |",
    ]
    for module, title in API_MODULES:
        index.append(f"| [`opportunity_map.{module}`]({module.lstrip('_')}.md) | {title} |")
        with mkdocs_gen_files.open(f"reference/{module.lstrip('_')}.md", "w") as f:
            f.write(f"# {title}\n\n::: opportunity_map.{module}\n")
    with mkdocs_gen_files.open("reference/index.md", "w") as f:
        f.write("\n".join(index) + "\n")


def copy_notebooks() -> None:
    for name in NOTEBOOKS:
        with mkdocs_gen_files.open(f"notebooks/{name}", "w") as f:
            f.write((ROOT / "examples" / name).read_text(encoding="utf-8"))


write_home()
write_performance()
write_cli()
write_data_model()
write_api()
copy_notebooks()
