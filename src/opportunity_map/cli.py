"""The ``opportunity-map`` command: a thin layer over the library, in Italian.

Each command parses its options and calls one library function. Data problems
become a list of ``file:row: column: message`` lines and exit status 1, usage
problems exit status 2; no traceback is ever shown for either.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import DataError, OpportunityMapError, Problem, format_problems

if TYPE_CHECKING:
    from .model import OpportunityMap

__all__ = ["main"]

log = logging.getLogger("opportunity_map")

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2
DEFAULT_BASELINE = "2026-06-30"

_ARGPARSE_IT = {
    "usage: ": "uso: ",
    "positional arguments": "argomenti",
    "options": "opzioni",
    "show this help message and exit": "mostra questo aiuto ed esce",
    "the following arguments are required: %s": "argomenti obbligatori mancanti: %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "scelta non valida: %(value)r (valori ammessi: %(choices)s)",
    "unrecognized arguments: %s": "argomenti non riconosciuti: %s",
    "one of the arguments %s is required": "serve uno degli argomenti %s",
    "argument %s: not allowed with argument %s": "argomento %s: incompatibile con %s",
    "expected one argument": "serve un valore",
    "invalid %(type)s value: %(value)r": "valore non valido: %(value)r",
}


def _translate(text: str) -> str:
    return _ARGPARSE_IT.get(text, text)


argparse._ = _translate  # type: ignore[attr-defined]  # argparse looks messages up here


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: errore: {message}\n")


def _date(text: str) -> str:
    from ._time import parse_date

    try:
        if parse_date(text) is None:
            raise ValueError
    except ValueError:
        msg = f"data non valida {text!r}: usare aaaa-mm-gg o gg/mm/aaaa"
        raise argparse.ArgumentTypeError(msg) from None
    return text


def _percent(text: str) -> float:
    try:
        return float(text.replace(",", ".").rstrip("%")) / 100
    except ValueError:
        msg = f"percentuale non valida {text!r} (es. 30)"
        raise argparse.ArgumentTypeError(msg) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"numero di repliche non valido {text!r} (intero >= 0)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _print_problems(problems: Sequence[Problem]) -> tuple[int, int]:
    if problems:
        print(format_problems(problems))
    errors = sum(p.severity == "error" for p in problems)
    return errors, len(problems) - errors


def _summary(errors: int, warnings: int) -> str:
    e = "1 errore" if errors == 1 else f"{errors} errori"
    w = "1 avviso" if warnings == 1 else f"{warnings} avvisi"
    return f"{e}, {w}"


# --------------------------------------------------------------------------- commands


def _cmd_validate(args: argparse.Namespace) -> int:
    from .io import validate

    problems = validate(args.path, territories=args.territories)
    errors, warnings = _print_problems(problems)
    if errors:
        print(f"Dati NON validi: {_summary(errors, warnings)}.")
        return EXIT_DATA
    print(f"Dati validi: {_summary(errors, warnings)}.")
    return EXIT_OK


def _load(args: argparse.Namespace) -> OpportunityMap:
    from .io import load

    m = load(args.path, territories=args.territories)
    _print_problems(m.problems)
    return m


def _cmd_template(args: argparse.Namespace) -> int:
    from .geography import find_territories_file, load_territories
    from .template import write_template

    found = Path(args.territories) if args.territories else find_territories_file(
        Path.cwd() / "data" / "ambiti")
    path = write_template(args.dir, territories=load_territories(found))
    print(f"Modello scritto: {path}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from .io import save

    m = _load(args)
    path = save(m, args.out)
    print(f"Mappa scritta: {path} ({len(m.actors)} attori, {len(m.relations)} relazioni)")
    return EXIT_OK


class _UsageError(Exception):
    """A problem with the command's options, explained in Italian (exit status 2)."""


def _check_dates(baseline: str | None, at: str | None) -> None:
    from ._time import to_timestamp

    if baseline and at and to_timestamp(baseline) >= to_timestamp(at):
        msg = f"la data --at ({at}) deve essere successiva alla baseline ({baseline})"
        raise _UsageError(msg)


def _check_territory(m: OpportunityMap, territory: str | None) -> None:
    if territory is not None and territory not in m.territory_slugs:
        msg = (f"territorio sconosciuto {territory!r}: territori della mappa: "
               + ", ".join(m.territory_slugs))
        raise _UsageError(msg)


def _evaluate(m: OpportunityMap, args: argparse.Namespace, out: Path) -> dict[str, Path]:
    from .evaluation import evaluate
    from .report import write_evaluation

    ev = evaluate(m, baseline=args.baseline, at=args.at, target=args.target,
                  n_boot=args.bootstrap, seed=args.seed)
    return write_evaluation(ev, out)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    _check_dates(args.baseline, args.at)
    m = _load(args)
    paths = _evaluate(m, args, Path(args.out))
    for path in paths.values():
        print(f"Scritto: {path}")
    return EXIT_OK


def _cmd_render(args: argparse.Namespace) -> int:
    from .maps import save_maps

    _check_dates(args.baseline, args.as_of or dt.date.today().isoformat())
    m = _load(args)
    _check_territory(m, args.territory)
    territories = None if args.all else [args.territory]
    paths = save_maps(m, args.out, territories=territories, as_of=args.as_of,
                      baseline=args.baseline, tiles=args.tiles)
    for path in paths:
        print(f"Scritto: {path}")
    return EXIT_OK


def _cmd_build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .io import save
    from .maps import save_maps

    _check_dates(args.baseline, args.at)
    out = Path(args.out)
    steps = ["convalida", "esportazione", "valutazione", "mappe"]
    with tqdm(total=len(steps), desc="build", unit="passo", file=sys.stderr,
              disable=args.quiet) as bar:
        bar.set_postfix_str(steps[0])
        m = _load(args)
        bar.update()
        bar.set_postfix_str(steps[1])
        written = [save(m, out / "dati"), save(m, out / "mappa_opportunita.gpkg"),
                   save(m, out / "mappa_opportunita.xlsx")]
        bar.update()
        bar.set_postfix_str(steps[2])
        written += list(_evaluate(m, args, out).values())
        bar.update()
        bar.set_postfix_str(steps[3])
        written += save_maps(m, out, as_of=args.at, baseline=args.baseline, tiles=args.tiles)
        bar.update()
    for path in written:
        print(f"Scritto: {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _add_path(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path,
                   help="cartella della mappa (es. data/ambiti), file .xlsx o .gpkg")
    p.add_argument("--territories", type=Path, default=None,
                   help="file dei territori (predefinito: territories.csv nella cartella "
                        "o in quelle superiori)")


def _add_evaluation(p: argparse.ArgumentParser, *, at_required: bool) -> None:
    p.add_argument("--baseline", type=_date, required=at_required,
                   default=None if at_required else DEFAULT_BASELINE,
                   help=f"data di riferimento (baseline), es. {DEFAULT_BASELINE}")
    p.add_argument("--at", type=_date, required=at_required,
                   default=None if at_required else dt.date.today().isoformat(),
                   help="data di confronto (predefinita: oggi)")
    p.add_argument("--target", type=_percent, default=0.30,
                   help="obiettivo di aumento della densità in percentuale (predefinito 30)")
    p.add_argument("--bootstrap", type=_count, default=2000,
                   help="repliche bootstrap (predefinito 2000)")
    p.add_argument("--seed", type=int, default=None, help="seme casuale (riproducibilità)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``opportunity-map`` (Italian help)."""
    parser = _Parser(prog="opportunity-map",
                     description="Mappa delle opportunità: convalida, valutazione della "
                                 "densità di rete e mappe interattive offline.")
    parser.add_argument("-v", "--verbose", action="store_true", help="messaggi dettagliati")
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMANDO",
                                parser_class=_Parser)

    p = sub.add_parser("validate", help="controlla i dati e elenca tutti i problemi")
    _add_path(p)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("template", help="scrive il modello Excel da compilare")
    p.add_argument("dir", type=Path, help="cartella in cui scrivere il modello")
    p.add_argument("--territories", type=Path, default=None, help="file dei territori")
    p.set_defaults(func=_cmd_template)

    p = sub.add_parser("export", help="scrive la mappa in CSV (cartella), .xlsx o .gpkg")
    _add_path(p)
    p.add_argument("--out", type=Path, required=True,
                   help="cartella (CSV) o file .xlsx / .gpkg di destinazione")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("evaluate", help="densità di rete rispetto alla baseline (+30%%)")
    _add_path(p)
    _add_evaluation(p, at_required=True)
    p.add_argument("--out", type=Path, required=True, help="cartella dei risultati")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("render", help="mappe interattive HTML offline per territorio")
    _add_path(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--territory", help="territorio (es. bergamo)")
    which.add_argument("--all", action="store_true", help="tutti i territori e l'indice")
    p.add_argument("--as-of", type=_date, default=None, help="data della mappa")
    p.add_argument("--baseline", type=_date, default=None,
                   help="baseline per evidenziare i legami nuovi")
    p.add_argument("--tiles", choices=["osm"], default=None,
                   help="sfondo OpenStreetMap (richiede internet per la visualizzazione)")
    p.add_argument("--out", type=Path, required=True, help="cartella dei file HTML")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("build", help="tutto: convalida, esportazione, valutazione e mappe")
    _add_path(p)
    _add_evaluation(p, at_required=False)
    p.add_argument("--tiles", choices=["osm"], default=None, help="sfondo OpenStreetMap")
    p.add_argument("--out", type=Path, required=True, help="cartella dei risultati")
    p.add_argument("-q", "--quiet", action="store_true", help="senza barra di avanzamento")
    p.set_defaults(func=_cmd_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except _UsageError as exc:
        print(f"opportunity-map: errore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DataError as exc:
        errors, warnings = _print_problems(exc.problems)
        print(f"Dati NON validi: {_summary(errors, warnings)}.", file=sys.stderr)
        return EXIT_DATA
    except FileNotFoundError as exc:
        print(f"opportunity-map: errore: file o cartella inesistente: {exc.filename or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OpportunityMapError) as exc:
        print(f"opportunity-map: errore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except PermissionError as exc:
        print(f"opportunity-map: errore: permesso negato: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
