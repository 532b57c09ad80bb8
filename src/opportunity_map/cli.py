"""The ``opportunity-map`` command: a thin layer over the library, in Italian.

Design (in the style of rasterio's ``rio``):

* **One library call per command.** Each ``_cmd_*`` function turns the parsed
  options into arguments and calls exactly one library function
  (:func:`opportunity_map.io.validate`, :func:`opportunity_map.pipeline.export`,
  :func:`opportunity_map.template.write_template` or
  :func:`opportunity_map.pipeline.build`); it then prints what happened. No
  data logic lives here, so the command and the notebooks behave the same.
  Library modules are imported inside the commands, so building the parser
  costs nothing beyond importing the package.
* **One place for errors.** The library raises typed errors
  (:class:`~opportunity_map._errors.DataError`, the
  :class:`~opportunity_map._errors.UsageError` family) with English messages
  meant for programmers. :func:`main` catches them, and :func:`_explain`
  turns each into Italian text and an exit status: 0 ok, 1 data errors,
  2 usage errors, 130 interrupted (Ctrl-C). No traceback is shown for them.
* **Italian through argparse's own API.** :class:`_Parser` subclasses
  :class:`argparse.ArgumentParser`: it adds its own ``-h/--help``, puts every
  argument in argument groups with Italian titles, uses a formatter whose
  usage prefix is ``uso:`` and translates argparse's own error messages in
  :meth:`_Parser.error`. The ``argparse`` module itself is never modified, so
  other parsers in the same process keep their English messages.
* **Output.** Progress (a tqdm bar on stderr) and the list of written files
  are hidden by ``-q/--quiet``; the notes of the library (which dates were
  used, why no evaluation was made) and the final ``Apri: <file>`` line are
  always printed. Errors go to stderr; only ``validate`` prints its problems on
  stdout, since that list is what it was asked for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import importlib.metadata
import itertools
import logging
import math
import re
import signal
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._errors import (
    DataError,
    DateOrderError,
    OpportunityMapError,
    OutputLocationError,
    Problem,
    TargetError,
    UnknownComuneError,
    UnknownOpportunityTypeError,
    UnknownTerritoryError,
    UsageError,
    format_problems,
)

if TYPE_CHECKING:
    from .maps import Tiles
    from .pipeline import Output

__all__ = ["build_parser", "main"]

PROG = "opportunity-map"
EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
DEFAULT_TARGET_PERCENT = 30.0
DEFAULT_BOOTSTRAP = 2000
ALL_OUTPUTS: tuple[Output, ...] = ("data", "evaluation", "maps")

#: Command-line spelling of the library's parameter names (for error messages).
_FLAGS = {"baseline": "--baseline", "as_of": "--as-of", "target": "--target",
          "date": "--date", "previous": "--previous",
          "n_boot": "--bootstrap", "territories": "--territory",
          "territories_file": "--territories", "within_km": "--entro", "limit": "--limite",
          "types": "--tipo", "threshold_km": "--entro", "province": "--provincia",
          "comune": "--comune"}


def _version() -> str:
    """The installed version of the package, or ``"sviluppo"`` when it is not installed."""
    try:
        return importlib.metadata.version("opportunity-map")
    except importlib.metadata.PackageNotFoundError:
        return "sviluppo"


# --------------------------------------------------------------------------- argparse in Italian

#: argparse's own error messages (English) and their Italian translation; each
#: pattern is applied at most once, in this order.
_ARGPARSE_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^argument (?P<name>[^:]+): "), r"argomento \g<name>: "),
    (re.compile(r"the following arguments are required: "), "argomenti obbligatori mancanti: "),
    (re.compile(r"invalid choice: (?P<value>.*?) \(choose from (?P<choices>.*)\)"),
     r"scelta non valida: \g<value> (valori ammessi: \g<choices>)"),
    (re.compile(r"unrecognized arguments: "), "argomenti non riconosciuti: "),
    (re.compile(r"expected one argument"), "serve un valore"),
    (re.compile(r"expected at least one argument"), "serve almeno un valore"),
    (re.compile(r"expected (?P<n>\d+) arguments?"), r"servono \g<n> valori"),
    (re.compile(r"one of the arguments (?P<names>.*) is required"),
     r"serve uno degli argomenti \g<names>"),
    (re.compile(r"not allowed with argument "), "incompatibile con "),
    (re.compile(r"invalid \S+ value: "), "valore non valido: "),
    (re.compile(r"ambiguous option: (?P<option>\S+) could match "),
     r"opzione ambigua: \g<option> può indicare "),
    (re.compile(r"ignored explicit argument "), "valore non ammesso: "),
)


def _translate_argparse(message: str) -> str:
    """Italian for an error message composed by argparse (unknown text is kept)."""
    for pattern, replacement in _ARGPARSE_ERRORS:
        message = pattern.sub(replacement, message, count=1)
    return message


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help formatter whose usage line starts with ``uso:``."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[Any], prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "uso: " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """An argument parser that speaks Italian without touching the argparse module.

    Arguments go into :attr:`arguments` (positional) and :attr:`options`, two
    groups with Italian titles; argparse's default groups stay empty and so do
    not appear in the help.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["add_help"] = False
        if kwargs.get("description"):  # the formatter keeps line breaks (for the examples)
            kwargs["description"] = textwrap.fill(kwargs["description"], width=79)
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)  # --a would be --all, --as-of or --at
        super().__init__(*args, **kwargs)
        self.arguments = self.add_argument_group("argomenti")
        self.options = self.add_argument_group("opzioni")
        self.options.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                                  help="mostra questo aiuto ed esce")

    def error(self, message: str) -> NoReturn:
        """Print the usage and the Italian error, then exit with status 2."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: errore: {_translate_argparse(message)}\n")


# --------------------------------------------------------------------------- option types


def _date(text: str) -> str:
    """A date as ``aaaa-mm-gg`` or ``gg/mm/aaaa``, returned as ISO ``aaaa-mm-gg``."""
    from ._time import parse_date

    try:
        ts = parse_date(text)
    except ValueError:
        ts = None
    if ts is None:
        msg = f"data non valida {text!r}: usare gg/mm/aaaa o aaaa-mm-gg"
        raise argparse.ArgumentTypeError(msg)
    return str(ts.strftime("%Y-%m-%d"))


def _percentage(text: str) -> float:
    """A percentage: ``30``, ``30%`` or ``30,5``."""
    try:
        value = float(text.strip().removesuffix("%").strip().replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        msg = f"percentuale non valida {text!r} (es. 30 per +30%)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _count(text: str) -> int:
    """A whole number ``>= 0``."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"numero non valido {text!r}: serve un intero maggiore o uguale a 0"
        raise argparse.ArgumentTypeError(msg)
    return value


def _km(text: str) -> float:
    """A distance in km ``>= 0``: ``15``, ``7,5`` or ``7.5 km``."""
    try:
        value = float(text.strip().lower().removesuffix("km").strip().replace(",", "."))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        msg = f"distanza non valida {text!r}: serve un numero di km >= 0 (es. 15 o 7,5)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _months(text: str) -> int:
    """A number of months (``>= 1``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"numero di mesi non valido {text!r}: serve un intero maggiore o uguale a 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def _bootstrap(text: str) -> int:
    """A number of bootstrap replicates (``>= 0``)."""
    try:
        return _count(text)
    except argparse.ArgumentTypeError:
        msg = f"numero di repliche non valido {text!r} (intero >= 0)"
        raise argparse.ArgumentTypeError(msg) from None


def _target_fraction(percent: float) -> float:
    """The library's target (a fraction) from the command line's percentage.

    A value below 1 is almost surely a fraction typed by mistake (``0.3`` for
    +30%): it is refused with a suggestion rather than read as +0.3%.
    """
    if percent < 1:
        if percent >= 0.01:
            hint = f"{percent * 100:g}"
            msg = (f"--target {percent:g}: l'obiettivo è una percentuale; "
                   f"per +{hint}% scrivere --target {hint}")
        else:
            msg = (f"--target {percent:g}: l'obiettivo è una percentuale di aumento "
                   "di almeno 1 (es. --target 30 per +30%)")
        raise UsageError(msg, param="target")
    return percent / 100


# --------------------------------------------------------------------------- output


def _summary(problems: Sequence[Problem]) -> str:
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    e = "1 errore" if errors == 1 else f"{errors} errori"
    w = "1 avviso" if warnings == 1 else f"{warnings} avvisi"
    return f"{e}, {w}"


def _print_warnings(problems: Sequence[Problem], *, quiet: bool) -> None:
    if problems and not quiet:
        print(format_problems(problems))


def _written_lines(written: Iterable[Path]) -> list[str]:
    """The ``Scritto:`` lines, one per file.

    A run of more than three files of one kind in one folder (the maps) is
    summarised in one line, so that the list stays short.
    """
    lines = []
    for (folder, suffix), group in itertools.groupby(written, lambda p: (p.parent, p.suffix)):
        paths = list(group)
        if len(paths) > 3:
            lines.append(f"Scritto: {len(paths)} file {suffix} in {folder}: {paths[0].name}, "
                         f"{paths[1].name}, …, {paths[-1].name}")
        else:
            lines += [f"Scritto: {path}" for path in paths]
    return lines


def _print_written(written: Iterable[Path], open_first: Path | None, *, quiet: bool) -> None:
    if not quiet:
        for line in _written_lines(written):
            print(line)
    if open_first is not None:
        print(f"Apri: {open_first}")


class _ProgressBar:
    """The library's ``progress(step_label, done, total)`` callback, drawn by tqdm on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, step_label: str, done: int, total: int) -> None:
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=step_label, unit="passo", file=sys.stderr,
                             dynamic_ncols=True)
        self._bar.total = total
        self._bar.update(done - self._bar.n)
        self._bar.set_description_str(step_label)

    def close(self, *, completed: bool) -> None:
        """Fill the bar when the work is done; erase it on failure, before the error."""
        if self._bar is not None:
            if completed:
                self._bar.update(self._bar.total - self._bar.n)
            else:
                self._bar.leave = False
            self._bar.close()


@contextmanager
def _progress(*, quiet: bool) -> Iterator[_ProgressBar | None]:
    """A progress bar for the duration of the block; ``None`` when quiet."""
    if quiet:
        yield None
        return
    bar = _ProgressBar()
    completed = False
    try:
        yield bar
        completed = True
    finally:
        bar.close(completed=completed)


# --------------------------------------------------------------------------- commands


def _cmd_validate(args: argparse.Namespace) -> int:
    from .io import validate

    problems = validate(args.path, territories=args.territories, as_of=args.as_of,
                        verify_months=args.verify_months)
    errors = [p for p in problems if p.severity == "error"]
    shown = errors if args.quiet else problems
    if shown:
        print(format_problems(shown))
    if errors:
        print(f"Dati NON validi: {_summary(problems)}.")
        return EXIT_DATA
    if not args.quiet:
        print(f"Dati validi: {_summary(problems)}.")
    return EXIT_OK


def _cmd_template(args: argparse.Namespace) -> int:
    if args.source is None:
        if args.territory is not None:
            raise UsageError("--territory needs --from", param="territory_without_source")
        from .template import write_template

        path = write_template(args.dir, territories=args.territories)
    else:
        from .template import write_workbook_from

        path = write_workbook_from(args.source, args.dir, territory=args.territory,
                                   territories_file=args.territories)
    _print_written([path], path, quiet=args.quiet)
    return EXIT_OK


def _cmd_tavolo(args: argparse.Namespace) -> int:
    from .tavolo import prepare_tavolo

    target = None if args.target is None else _target_fraction(args.target)
    n_boot = args.bootstrap
    with _progress(quiet=args.quiet) as progress:
        result = prepare_tavolo(
            args.path, args.out, territory=args.territory, date=args.date,
            previous=args.previous, previous_data=args.previous_data, baseline=args.baseline,
            target=target, n_boot=n_boot, seed=args.seed,
            verify_months=args.verify_months, territories_file=args.territories,
            progress=progress)
    _print_warnings(result.map.problems, quiet=args.quiet)
    for note in result.notes:
        print(note)
    if not args.quiet:
        counts = result.changes["label"].value_counts(sort=False)
        print("Modifiche dal Tavolo precedente: " + (
            "; ".join(f"{label} {n}" for label, n in counts.items()) if len(counts)
            else "nessuna") + ".")
        print(f"Da verificare (oltre {args.verify_months} mesi o mai): "
              f"{len(result.unverified)}.")
    _print_written(result.written, result.open_first, quiet=args.quiet)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from .pipeline import export

    m, path = export(args.path, args.out, territories=args.territories)
    _print_warnings(m.problems, quiet=args.quiet)
    if not args.quiet:
        print(f"Scritto: {path} ({len(m.actors)} attori, {len(m.relations)} relazioni)")
    print(f"Apri: {path}")
    return EXIT_OK


def _run_build(args: argparse.Namespace, *, outputs: tuple[Output, ...],
               territories: Sequence[str] | None, tiles: Tiles = None,
               target_percent: float | None = None,
               n_boot: int | None = None, seed: int | None = None) -> int:
    """Call :func:`opportunity_map.pipeline.build` once and report its result.

    The options typed are passed as ``explicit``: they override the evaluation plan
    of the data folder, the others come from it (or from the defaults).
    """
    from .pipeline import build

    typed = {name for name, value in (
        ("baseline", args.baseline), ("as_of", args.as_of), ("target", target_percent),
        ("n_boot", n_boot), ("seed", seed),
        ("min_ties", getattr(args, "min_ties", None)),
        ("interval", getattr(args, "interval", None)),
        ("territory_rule", getattr(args, "territory_rule", None))) if value is not None}
    target = _target_fraction(DEFAULT_TARGET_PERCENT if target_percent is None
                              else target_percent)
    extra: dict[str, Any] = {}
    if hasattr(args, "min_ties"):
        rule = getattr(args, "territory_rule", None)
        extra = {"min_ties": args.min_ties, "interval": args.interval,
                 "territory_rule": {"secondari": "secondary"}.get(rule or "", rule),
                 "plan": None if args.no_plan else "auto", "power": args.power}
    with _progress(quiet=args.quiet) as progress:
        result = build(
            args.path, args.out, outputs=outputs, baseline=args.baseline, as_of=args.as_of,
            target=target, n_boot=DEFAULT_BOOTSTRAP if n_boot is None else n_boot, seed=seed,
            territories=territories, territories_file=args.territories, tiles=tiles,
            progress=progress, explicit=typed, **extra)
    _print_warnings(result.map.problems, quiet=args.quiet)
    for note in result.notes:
        print(note)
    _print_written(result.written, result.open_first, quiet=args.quiet)
    return EXIT_OK


def _cmd_evaluate(args: argparse.Namespace) -> int:
    return _run_build(args, outputs=("evaluation",), territories=args.territory,
                      target_percent=args.target, n_boot=args.bootstrap, seed=args.seed)


def _cmd_render(args: argparse.Namespace) -> int:
    return _run_build(args, outputs=("maps",), territories=None if args.all else args.territory,
                      tiles=args.tiles)


def _cmd_build(args: argparse.Namespace) -> int:
    return _run_build(args, outputs=ALL_OUTPUTS, territories=args.territory, tiles=args.tiles,
                      target_percent=args.target, n_boot=args.bootstrap, seed=args.seed)


def _km_text(km: float) -> str:
    """``3,4 km``: one decimal, decimal comma."""
    return f"{km:.1f}".replace(".", ",") + " km"


def _found_lines(found: Any) -> list[str]:
    """The Italian list of :func:`opportunity_map.finder.find_opportunities`, one block each."""
    lines = []
    width = len(str(len(found)))
    for i, row in enumerate(found.itertuples(index=False), start=1):
        where = f"{row.comune}" + (f", {row.ambito}" if row.ambito else "")
        mark = " (stesso ambito)" if row.same_ambito else ""
        approx = " · posizione approssimata: centro del comune" if row.approximate else ""
        lines.append(f"{i:>{width}}. {_km_text(row.distance_km)} · {row.type_label}: "
                     f"{row.name} [{row.opportunity_id}]")
        pad = " " * (width + 2)
        lines.append(f"{pad}{row.actor_name} – {where}{mark}{approx}")
        extra = [f"posti: {row.capacity:g}" if isinstance(row.capacity, int | float)
                 and math.isfinite(row.capacity) else "",
                 f"destinatari: {row.target}" if row.target else ""]
        contacts = [row.address, f"tel. {row.phone}" if row.phone else "", row.email,
                    row.website]
        if any(contacts):
            lines.append(pad + "contatti: " + " · ".join(c for c in contacts if c))
        if any(extra):
            lines.append(pad + " · ".join(e for e in extra if e))
    return lines


def _cmd_trova(args: argparse.Namespace) -> int:
    from .finder import find_opportunities, write_opportunities

    found = find_opportunities(
        args.path, comune=args.comune, province=args.province, types=args.types,
        targets=args.targets, as_of=args.as_of, within_km=args.within_km, limit=args.limit)
    day = dt.date.fromisoformat(found.attrs["as_of"]).strftime("%d/%m/%Y")
    what = ("" if not args.types else " di tipo " + ", ".join(args.types))
    within = "" if args.within_km is None else f" entro {_km_text(args.within_km)}"
    if len(found):
        print(f"Opportunità attive al {day}{what}{within} più vicine a "
              f"{found.attrs['comune']}:")
        for line in _found_lines(found):
            print(line)
    else:
        print(f"Nessuna opportunità attiva al {day}{what}{within} per "
              f"{found.attrs['comune']} con i criteri indicati: provare senza --entro, con "
              "altri tipi (--tipo) o senza --destinatari.")
    print(found.attrs["note"])
    if args.out is not None:
        path = write_opportunities(found, args.out)
        _print_written([path], None, quiet=args.quiet)
    return EXIT_OK


def _cmd_copertura(args: argparse.Namespace) -> int:
    from .finder import write_coverage

    result, written = write_coverage(args.path, args.out, as_of=args.as_of, types=args.types,
                                     territories=args.territory, threshold_km=args.threshold_km)
    for note in result.notes:
        print(note)
    if not args.quiet:
        print(f"Comuni: {len(result.comuni)}; ambiti: {len(result.ambiti)}.")
    _print_written(written, written[0], quiet=args.quiet)
    return EXIT_OK


def _cmd_potenza(args: argparse.Namespace) -> int:
    from .io import load
    from .power import power, write_power

    target = _target_fraction(args.target)
    m = load(args.path, territories=args.territories)
    result = power(m, baseline=args.baseline, target=target, n_sim=args.simulations,
                   n_boot=args.bootstrap, seed=args.seed, min_ties=args.min_ties,
                   interval=args.interval)
    written = write_power(result, args.out)
    if not args.quiet:
        print(f"Potenza stimata con {result.n_sim} simulazioni per territorio, "
              f"seme {result.seed}.")
    _print_written(written.values(), written["html"], quiet=args.quiet)
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _today() -> str:
    return dt.date.today().strftime("%d/%m/%Y")


def _add_quiet(p: _Parser) -> None:
    p.options.add_argument("-q", "--quiet", action="store_true",
                           help="niente barra di avanzamento né elenco dei file scritti: "
                                "solo gli errori, le note e la riga finale 'Apri:'")


def _add_source(p: _Parser) -> None:
    p.arguments.add_argument("path", type=Path, metavar="PERCORSO",
                             help="cartella della mappa (es. data/ambiti), file .xlsx o .gpkg")
    p.options.add_argument("--territories", type=Path, default=None, metavar="FILE",
                           help="file dei territori che sostituisce l'elenco (predefinito: "
                                "gli 11 territori del progetto, estesi da un territories.csv "
                                "nella cartella della mappa o in una cartella superiore)")


def _add_as_of(p: _Parser, what: str) -> None:
    p.options.add_argument("--as-of", type=_date, default=None, dest="as_of", metavar="DATA",
                           help=f"{what}, gg/mm/aaaa o aaaa-mm-gg "
                                f"(predefinita: oggi ({_today()}))")
    # the old name of --as-of, still accepted and not shown
    p.options.add_argument("--at", type=_date, default=argparse.SUPPRESS, dest="as_of",
                           help=argparse.SUPPRESS)


def _add_territory(add_argument: Callable[..., argparse.Action], help_text: str) -> None:
    add_argument("--territory", action="append", default=None, metavar="TERRITORIO",
                           help=help_text)


def _add_evaluation_options(p: _Parser) -> None:
    # defaults None: what was typed overrides the plan (piano_valutazione.toml), and
    # the report says so; the defaults below apply without a plan
    p.options.add_argument("--target", type=_percentage, default=None,
                           metavar="PERCENTUALE",
                           help="obiettivo di aumento della densità di rete, in percentuale: "
                                f"30 = +30%% (predefinito: il piano, altrimenti "
                                f"{DEFAULT_TARGET_PERCENT:g})")
    p.options.add_argument("--bootstrap", type=_bootstrap, default=None,
                           metavar="N",
                           help=f"repliche bootstrap (predefinito: il piano, altrimenti "
                                f"{DEFAULT_BOOTSTRAP})")
    p.options.add_argument("--seed", type=_count, default=None, metavar="N",
                           help="seme casuale, per risultati riproducibili "
                                "(predefinito: il piano, altrimenti nessuno)")
    p.options.add_argument("--min-legami", "--min-ties", type=_count, default=None,
                           dest="min_ties", metavar="N",
                           help="legami minimi nel panel alla baseline per un esito "
                                "(predefinito: il piano, altrimenti 20)")
    p.options.add_argument("--intervallo", "--interval", choices=["bootstrap", "jackknife"],
                           default=None, dest="interval",
                           help="intervallo dell'esito (predefinito: il piano, altrimenti "
                                "bootstrap)")
    p.options.add_argument("--regola-territori", "--territory-rule",
                           choices=["secondari", "holm"], default=None, dest="territory_rule",
                           help="regola tra territori (predefinito: il piano, altrimenti "
                                "secondari)")
    p.options.add_argument("--senza-piano", "--no-plan", action="store_true", dest="no_plan",
                           help="ignora piano_valutazione.toml nella cartella dei dati")
    p.options.add_argument("--potenza", "--power", action="store_true", dest="power",
                           help="stima anche la variazione minima rilevabile (mde_pct; "
                                "circa 20 s in più)")


def _add_day(p: _Parser) -> None:
    """``--data`` (``--date``, ``--as-of``): the date of the opportunities, default today."""
    p.options.add_argument("--data", "--date", "--as-of", type=_date, default=None,
                           dest="as_of", metavar="DATA",
                           help=f"data, gg/mm/aaaa o aaaa-mm-gg (predefinita: oggi "
                                f"({_today()}))")


def _add_verify_months(p: _Parser) -> None:
    p.options.add_argument("--verify-months", "--verifica-mesi", type=_months, default=12,
                           dest="verify_months", metavar="MESI",
                           help="righe da verificare: non verificate da più di MESI mesi "
                                "(predefinito: 12)")


def _add_tiles(p: _Parser) -> None:
    p.options.add_argument("--tiles", choices=["osm"], default=None,
                           help="sfondo OpenStreetMap: serve internet per vederlo "
                                "(predefinito: nessuno sfondo, la mappa funziona offline)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``opportunity-map`` (Italian help and messages)."""
    parser = _Parser(
        prog=PROG,
        description="Mappa delle opportunità: convalida dei dati, valutazione della densità "
                    "di rete rispetto alla baseline e mappe interattive che funzionano offline.",
        epilog="esempi:\n"
               f"  {PROG} validate data/ambiti\n"
               f"  {PROG} build data/ambiti --baseline 30/06/2026 --out risultati\n"
               f"  {PROG} COMANDO --help    aiuto su un comando")
    parser.options.add_argument("-v", "--verbose", action="store_true",
                                help="messaggi dettagliati")
    parser.options.add_argument("--version", action="version", version=f"{PROG} {_version()}",
                                help="mostra la versione ed esce")
    sub = parser.add_subparsers(title="comandi", dest="command", required=True,
                                metavar="COMANDO", parser_class=_Parser)

    p = sub.add_parser("validate", help="controlla i dati ed elenca tutti i problemi",
                       description="Controlla i dati ed elenca tutti i problemi, uno per riga "
                                   "(file:riga: colonna: messaggio). Uscita 0 se validi "
                                   "(avvisi ammessi), 1 se ci sono errori.")
    _add_source(p)
    p.options.add_argument("--as-of", "--data", type=_date, default=None, dest="as_of",
                           metavar="DATA",
                           help="elenca anche, come avvisi, le organizzazioni e le opportunità "
                                "attive a questa data e non verificate (verificato_il) da più "
                                "di --verifica-mesi mesi o mai")
    _add_verify_months(p)
    _add_quiet(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("template", help="scrive il modello Excel da compilare",
                       description="Scrive mappa_opportunita.xlsx, il modello da compilare "
                                   "con elenchi a tendina e istruzioni; con --from lo scrive "
                                   "già compilato con i dati di una mappa (mappa_<territorio>"
                                   ".xlsx con --territory), pronto per il semestre successivo.")
    p.arguments.add_argument("dir", type=Path, metavar="CARTELLA",
                             help="cartella in cui scrivere il modello")
    p.options.add_argument("--from", "--da", type=Path, default=None, dest="source",
                           metavar="PERCORSO",
                           help="mappa da cui precompilare il modello (cartella, .xlsx o .gpkg)")
    p.options.add_argument("--territory", "--territorio", default=None, metavar="TERRITORIO",
                           help="con --from: solo questo territorio (nome o sigla)")
    p.options.add_argument("--territories", type=Path, default=None, metavar="FILE",
                           help="file dei territori offerti nel modello (predefinito: "
                                "i territori del progetto)")
    _add_quiet(p)
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser("tavolo", help="per il Tavolo di rete di un territorio: mappa, "
                                      "modifiche, documento PDF e modello per il semestre",
                       description="Per il Tavolo di rete di un territorio alla data --date: "
                                   "la mappa, l'elenco delle modifiche dal Tavolo precedente "
                                   "(CSV), il documento da stampare (PDF, A4) e la cartella di "
                                   "lavoro Excel già compilata per il semestre successivo.")
    _add_source(p)
    p.options.add_argument("--territory", "--territorio", required=True, metavar="TERRITORIO",
                           help="il territorio (nome o sigla, es. lecco)")
    p.options.add_argument("--date", "--data", type=_date, required=True, dest="date",
                           metavar="DATA", help="data del Tavolo, gg/mm/aaaa o aaaa-mm-gg")
    p.options.add_argument("--previous", "--precedente", type=_date, default=None,
                           dest="previous", metavar="DATA",
                           help="data del Tavolo precedente (predefinita: sei mesi prima)")
    p.options.add_argument("--previous-data", "--dati-precedenti", type=Path, default=None,
                           dest="previous_data", metavar="PERCORSO",
                           help="versione precedente dei dati: le righe cancellate vengono "
                                "segnalate")
    p.options.add_argument("--baseline", type=_date, default=None, metavar="DATA",
                           help="baseline per la variazione di densità (predefinita: nessuna)")
    _add_evaluation_options(p)
    _add_verify_months(p)
    p.options.add_argument("--out", type=Path, required=True, metavar="CARTELLA",
                           help="cartella dei risultati")
    _add_quiet(p)
    p.set_defaults(func=_cmd_tavolo)

    p = sub.add_parser("export", help="scrive la mappa in CSV (cartella), .xlsx o .gpkg",
                       description="Controlla la mappa e la scrive in un altro formato.")
    _add_source(p)
    p.options.add_argument("--out", type=Path, required=True, metavar="DESTINAZIONE",
                           help="cartella (CSV) o file .xlsx / .gpkg da scrivere")
    _add_quiet(p)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("evaluate", help="densità di rete rispetto alla baseline (+30%%)",
                       description="Variazione della densità di rete fra la baseline e la "
                                   "data --as-of, per territorio e per la Lombardia: "
                                   "evaluation.csv, .xlsx e .html.")
    _add_source(p)
    p.options.add_argument("--baseline", type=_date, required=True, metavar="DATA",
                           help="data della baseline, gg/mm/aaaa o aaaa-mm-gg (obbligatoria)")
    _add_as_of(p, "data del confronto con la baseline")
    _add_evaluation_options(p)
    _add_territory(p.options.add_argument, "territorio da valutare (nome o sigla, es. bergamo); "
                              "ripetibile (predefinito: tutti i territori con organizzazioni)")
    p.options.add_argument("--out", type=Path, required=True, metavar="CARTELLA",
                           help="cartella dei risultati")
    _add_quiet(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("render", help="mappe interattive HTML offline per territorio",
                       description="Mappe interattive HTML, una per territorio, e l'indice; "
                                   "funzionano offline.")
    _add_source(p)
    which = p.options.add_mutually_exclusive_group(required=True)
    _add_territory(which.add_argument,
                   "territorio da disegnare (nome o sigla, es. bergamo); ripetibile")
    which.add_argument("--all", action="store_true",
                       help="tutti i territori con organizzazioni e l'indice")
    _add_as_of(p, "data che la mappa mostra")
    p.options.add_argument("--baseline", type=_date, default=None, metavar="DATA",
                           help="baseline per evidenziare i legami nuovi "
                                "(predefinita: nessuna)")
    _add_tiles(p)
    p.options.add_argument("--out", type=Path, required=True, metavar="CARTELLA",
                           help="cartella dei file HTML")
    _add_quiet(p)
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("build", help="tutto: convalida, esportazione, valutazione e mappe",
                       description="Tutto in una volta: controlla i dati, li esporta "
                                   "(CSV, .xlsx, .gpkg), valuta la densità rispetto alla "
                                   "baseline e disegna le mappe.")
    _add_source(p)
    p.options.add_argument("--baseline", type=_date, default=None, metavar="DATA",
                           help="data della baseline, gg/mm/aaaa o aaaa-mm-gg (predefinita: "
                                "nessuna; senza baseline si scrivono i dati e le mappe alla "
                                "data --as-of, senza valutazione)")
    _add_as_of(p, "data che dati e mappe mostrano e del confronto con la baseline")
    _add_evaluation_options(p)
    _add_territory(p.options.add_argument, "territorio da includere (nome o sigla, es. bergamo); "
                              "ripetibile (predefinito: tutti i territori con organizzazioni)")
    _add_tiles(p)
    p.options.add_argument("--out", type=Path, required=True, metavar="CARTELLA",
                           help="cartella dei risultati")
    _add_quiet(p)
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("trova", help="opportunità attive più vicine a un comune",
                       description="Le opportunità attive più vicine a un comune (qualsiasi "
                                   "comune italiano), per tipo, con distanze in linea d'aria "
                                   "e contatti dell'organizzazione. Nessun dato personale: "
                                   "bastano un comune e un tipo.")
    _add_source(p)
    p.options.add_argument("--comune", required=True, metavar="NOME",
                           help="il comune (es. Calolziocorte, \"S. Omobono Terme\", "
                                "\"Castro (BG)\")")
    p.options.add_argument("--provincia", "--province", default=None, dest="province",
                           metavar="PROVINCIA",
                           help="provincia del comune, se il nome è ambiguo (sigla o nome)")
    p.options.add_argument("--tipo", "--type", action="append", default=None, dest="types",
                           metavar="TIPO",
                           help="tipo di opportunità (codice, es. tis, o nome); ripetibile "
                                "(predefinito: tutti)")
    p.options.add_argument("--destinatari", "--target", action="append", default=None,
                           dest="targets", metavar="TESTO",
                           help="solo le opportunità i cui destinatari contengono TESTO; "
                                "ripetibile")
    p.options.add_argument("--entro", "--within", type=_km, default=None, dest="within_km",
                           metavar="KM", help="solo entro KM chilometri in linea d'aria")
    _add_day(p)
    p.options.add_argument("--limite", "--limit", type=_count, default=20, dest="limit",
                           metavar="N", help="al massimo N risultati (predefinito: 20)")
    p.options.add_argument("--out", type=Path, default=None, metavar="FILE",
                           help="scrive anche il risultato in FILE .csv o .xlsx")
    _add_quiet(p)
    p.set_defaults(func=_cmd_trova)

    p = sub.add_parser("copertura", help="distanza dalle opportunità per comune e ambito",
                       description="Per ogni comune dei territori, la distanza in linea d'aria "
                                   "dall'opportunità attiva più vicina di ogni tipo "
                                   "(copertura_comuni.csv) e, per ambito, la quota di "
                                   "popolazione 15-64 anni oltre la soglia "
                                   "(copertura_ambiti.csv).")
    _add_source(p)
    _add_territory(p.options.add_argument, "territorio (nome o sigla, es. lecco); ripetibile "
                                           "(predefinito: tutti)")
    p.options.add_argument("--territorio", action="append", default=argparse.SUPPRESS,
                           dest="territory", help=argparse.SUPPRESS)
    p.options.add_argument("--tipo", "--type", action="append", default=None, dest="types",
                           metavar="TIPO", help="tipo di opportunità; ripetibile "
                                                "(predefinito: tutti)")
    _add_day(p)
    p.options.add_argument("--entro", "--within", type=_km, default=15.0, dest="threshold_km",
                           metavar="KM", help="soglia in km (predefinita: 15)")
    p.options.add_argument("--out", type=Path, required=True, metavar="CARTELLA",
                           help="cartella dei risultati")
    _add_quiet(p)
    p.set_defaults(func=_cmd_copertura)

    p = sub.add_parser("potenza", help="potenza della valutazione prima dei dati (+30%%)",
                       description="Dalla rete alla baseline stima, per simulazione con lo "
                                   "stesso stimatore della valutazione, la probabilità di "
                                   "esito 'raggiunto' se la variazione vera fosse +30%%, "
                                   "+45%%, +60%%, e la variazione minima rilevabile "
                                   "(potenza.csv, potenza.html).")
    _add_source(p)
    p.options.add_argument("--baseline", type=_date, required=True, metavar="DATA",
                           help="data della baseline, gg/mm/aaaa o aaaa-mm-gg")
    p.options.add_argument("--target", type=_percentage, default=DEFAULT_TARGET_PERCENT,
                           metavar="PERCENTUALE",
                           help="obiettivo di aumento della densità in %% (predefinito: 30)")
    p.options.add_argument("--simulazioni", "--simulations", type=_count, default=200,
                           dest="simulations", metavar="N",
                           help="simulazioni per territorio (predefinite: 200)")
    p.options.add_argument("--bootstrap", type=_bootstrap, default=400, metavar="N",
                           help="repliche bootstrap per simulazione (predefinite: 400)")
    p.options.add_argument("--min-legami", "--min-ties", type=_count, default=20,
                           dest="min_ties", metavar="N",
                           help="legami minimi alla baseline per un esito (predefiniti: 20)")
    p.options.add_argument("--intervallo", "--interval", choices=["bootstrap", "jackknife"],
                           default="bootstrap", dest="interval",
                           help="intervallo dell'esito (predefinito: bootstrap)")
    p.options.add_argument("--seed", type=_count, default=None, metavar="N",
                           help="seme delle simulazioni (predefinito: casuale, indicato)")
    p.options.add_argument("--out", type=Path, required=True, metavar="CARTELLA",
                           help="cartella dei risultati")
    _add_quiet(p)
    p.set_defaults(func=_cmd_potenza)
    return parser


# --------------------------------------------------------------------------- errors and main


def _flag(param: str) -> str:
    return _FLAGS.get(param, "--" + param.replace("_", "-"))


def _day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


def _target_text(exc: TargetError) -> str:
    """A target the library refused, stated as the percentage the command line took."""
    from .evaluation import TARGET_RANGE

    value = exc.value
    if isinstance(value, int | float) and math.isfinite(value):
        low, high = (100 * v for v in TARGET_RANGE)
        bound = f"al massimo {high:g}" if 100 * value > high else f"almeno {low:g}"
        return f"--target {100 * value:g}: obiettivo fuori misura, il valore ammesso è {bound}"
    return str(exc)


#: Italian text of the library's usage errors, by the parameter they name.
_USAGE_MESSAGES: dict[str, str] = {
    "out_dir": "la destinazione --out è un file esistente: indicare una cartella",
    "baseline": "serve la data di riferimento: indicare --baseline",
    "territories": "indicare almeno un territorio con --territory",
    "n_boot": "il numero di repliche --bootstrap deve essere un intero >= 0",
    "seed": "il seme --seed deve essere un intero >= 0",
    "territory_without_source": "--territory si usa con --from (il modello vuoto vale per "
                                "ogni territorio)",
    "province": "provincia sconosciuta: indicare la sigla (es. BG) o il nome",
    "out_file": "il file --out deve terminare in .csv o .xlsx",
}


def _explain(exc: BaseException) -> tuple[int, str]:
    """The exit status and the Italian message (for stderr) of an error.

    This is the only place where library errors become command-line text.
    """
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "Interrotto."
    if isinstance(exc, _Terminated):
        return EXIT_TERMINATED, "Interrotto (segnale di terminazione)."
    if isinstance(exc, DataError):
        lines = [format_problems(exc.problems)] if exc.problems else []
        return EXIT_DATA, "\n".join([*lines, f"Dati NON validi: {_summary(exc.problems)}."])
    status = EXIT_USAGE
    if isinstance(exc, UnknownComuneError):
        status = EXIT_DATA
        if exc.ambiguous:
            text = (f"il comune {exc.name!r} esiste in più province: "
                    f"{', '.join(exc.candidates)}; indicare la provincia, es. "
                    f"--comune \"{exc.candidates[0]}\" oppure --provincia")
        else:
            near = ", ".join(exc.candidates) if exc.candidates else "nessuno"
            text = f"comune sconosciuto {exc.name!r}; i più simili: {near}"
    elif isinstance(exc, UnknownOpportunityTypeError):
        text = (f"tipo di opportunità sconosciuto {exc.value!r}: tipi ammessi: "
                f"{', '.join(exc.known)}")
    elif isinstance(exc, UnknownTerritoryError):
        known = ", ".join(exc.known) if exc.known else "nessuno"
        text = f"territorio sconosciuto {exc.name!r}: territori disponibili: {known}"
    elif isinstance(exc, DateOrderError):
        text = (f"la data {_flag(exc.later_param)} ({_day(exc.later)}) deve essere successiva "
                f"alla {_flag(exc.earlier_param)} ({_day(exc.earlier)})")
    elif isinstance(exc, TargetError):
        text = _target_text(exc)
    elif isinstance(exc, OutputLocationError):
        text = _output_location_text(exc)
    elif isinstance(exc, UsageError):
        text = _USAGE_MESSAGES.get(exc.param or "", str(exc))
    elif isinstance(exc, OpportunityMapError):
        text = str(exc)
        status = EXIT_DATA
    elif isinstance(exc, FileNotFoundError):
        text = f"file o cartella inesistente: {exc.filename or exc}"
    elif isinstance(exc, PermissionError):
        text = f"permesso negato: {exc.filename or exc}"
    elif isinstance(exc, NotADirectoryError):
        text = f"non è una cartella: {exc.filename or exc}"
    elif isinstance(exc, IsADirectoryError):
        text = f"è una cartella, non un file: {exc.filename or exc}"
    elif isinstance(exc, OSError):
        reason = ("spazio su disco esaurito" if exc.errno == errno.ENOSPC
                  else exc.strerror or str(exc))
        text = (f"scrittura non riuscita ({reason}); i risultati precedenti sono rimasti "
                "com'erano")
    else:  # pragma: no cover - main only passes the types above
        raise exc
    return status, f"{PROG}: errore: {text}"


def _output_location_text(exc: OutputLocationError) -> str:
    if exc.param in ("folder", "path", "workbook"):
        return (f"{exc.out} esiste già: potrebbe essere una mappa già compilata e non viene "
                "sovrascritto; spostarlo o indicare un'altra cartella")
    flag = "--out"
    if exc.relation == "file":
        return f"la destinazione {flag} {exc.out} è un file esistente: indicare una cartella"
    if exc.relation == "same":
        return (f"la destinazione {flag} {exc.out} coincide con i dati da leggere: "
                "i dati non vengono mai sovrascritti, indicare un'altra destinazione")
    if exc.relation == "inside":
        return (f"la destinazione {flag} {exc.out} è dentro la cartella dei dati "
                f"{exc.source}: i risultati finirebbero tra i dati, indicare una cartella "
                "esterna")
    return (f"la destinazione {flag} {exc.out} contiene i dati {exc.source}: indicare "
            "un'altra destinazione")


class _Terminated(BaseException):
    """SIGTERM, raised as an exception so that every temporary file is cleaned up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


#: The errors :func:`main` reports without a traceback.
_REPORTED = (KeyboardInterrupt, _Terminated, OpportunityMapError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 ok, 1 data errors, 2 usage errors (and outputs that could not be written),
        130 interrupted by Ctrl-C, 143 terminated by SIGTERM.
    """
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, --version or a usage error, already printed
            if exc.code is None or isinstance(exc.code, int):
                return exc.code or EXIT_OK
            return EXIT_USAGE
        logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                            format="%(levelname)s %(name)s: %(message)s")
        command: Callable[[argparse.Namespace], int] = args.func
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            return command(args)
        finally:
            signal.signal(signal.SIGTERM, previous)
    except _REPORTED as exc:
        status, message = _explain(exc)
        sys.stdout.flush()
        print(message, file=sys.stderr)
        return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
