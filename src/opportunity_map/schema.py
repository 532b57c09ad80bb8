"""The data model: tables, columns, their Italian aliases and the controlled vocabularies.

This module is the public contract of a "mappa delle opportunità". It holds only
data (no I/O), so that validation, the Excel template, the maps and the reports
all speak the same vocabulary.

Three tables describe a map:

``actors``
    Organisations (never people): one row per organisation.
``opportunities``
    What a person can be sent to (a TIS, an isola formativa, ...), offered by an actor.
``relations``
    Ties between two organisations, with a kind and a level of collaboration.

Every column has an English canonical name and Italian aliases; headers are
matched ignoring case, accents, spaces and punctuation (see :func:`normalize_header`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ACTOR_KINDS",
    "ACTOR_KIND_LABELS",
    "GEOCODED_CATEGORIES",
    "GEOCODED_COMUNE",
    "GEOCODED_GIVEN",
    "GROUPS",
    "GROUP_LABELS",
    "KIND_TO_GROUP",
    "LEVELS",
    "LEVEL_LABELS",
    "OPPORTUNITY_TYPES",
    "OPPORTUNITY_TYPE_LABELS",
    "RELATION_KINDS",
    "RELATION_KIND_LABELS",
    "TABLES",
    "TIE_DEFINITION",
    "Column",
    "Table",
    "normalize_header",
]

#: Actor kinds (``kind`` / ``tipo``) with their Italian labels.
ACTOR_KIND_LABELS: dict[str, str] = {
    "collocamento_mirato": "Collocamento Mirato",
    "agenzia_lavoro": "Agenzia per il lavoro (ApL)",
    "cooperativa_a": "Cooperativa sociale di tipo A",
    "cooperativa_b": "Cooperativa sociale di tipo B",
    "consorzio": "Consorzio di cooperative",
    "impresa": "Impresa",
    "servizio_sociale": "Servizio sociale (Comune, Ufficio di Piano, SIL/NIL)",
    "servizio_sanitario": "Servizio sanitario (ASST, ATS, CPS)",
    "centro_vita_indipendente": "Centro per la Vita Indipendente",
    "servizio_diurno": "Servizio diurno (SFA, CSE, CDD)",
    "ente_formazione": "Ente di formazione",
    "scuola": "Scuola",
    "associazione": "Associazione",
    "ente_pubblico": "Ente pubblico",
    "centro_ricerca": "Centro di ricerca",
    "altro": "Altro",
}
ACTOR_KINDS: tuple[str, ...] = tuple(ACTOR_KIND_LABELS)

#: The five groups the funded project measures (block densities, E-I index).
GROUP_LABELS: dict[str, str] = {
    "cm": "Collocamento Mirato",
    "apl": "Agenzie per il lavoro",
    "cooperazione": "Cooperazione sociale",
    "imprese": "Imprese",
    "servizi": "Servizi territoriali",
}
GROUPS: tuple[str, ...] = tuple(GROUP_LABELS)

#: Every actor kind belongs to exactly one group.
KIND_TO_GROUP: dict[str, str] = {
    "collocamento_mirato": "cm",
    "agenzia_lavoro": "apl",
    "cooperativa_a": "cooperazione",
    "cooperativa_b": "cooperazione",
    "consorzio": "cooperazione",
    "impresa": "imprese",
    "servizio_sociale": "servizi",
    "servizio_sanitario": "servizi",
    "centro_vita_indipendente": "servizi",
    "servizio_diurno": "servizi",
    "ente_formazione": "servizi",
    "scuola": "servizi",
    "associazione": "servizi",
    "ente_pubblico": "servizi",
    "centro_ricerca": "servizi",
    "altro": "servizi",
}

#: Opportunity types (``type`` / ``tipo``).
OPPORTUNITY_TYPE_LABELS: dict[str, str] = {
    "tis": "Tirocinio di inclusione sociale (TIS)",
    "tirocinio_extracurricolare": "Tirocinio extracurricolare",
    "isola_formativa": "Isola formativa",
    "convenzione_art14": "Convenzione ex art. 14",
    "laboratorio_socio_occupazionale": "Laboratorio socio-occupazionale",
    "formazione": "Formazione",
    "servizio_autonomia": "Servizio per l'autonomia",
    "dote_duld": "Dote Unica Lavoro Disabili (DULD)",
    "supporto_famiglia": "Supporto alla famiglia",
    "orientamento": "Orientamento",
    "inserimento_lavorativo": "Inserimento lavorativo",
    "altro": "Altro",
}
OPPORTUNITY_TYPES: tuple[str, ...] = tuple(OPPORTUNITY_TYPE_LABELS)

#: Relation kinds (``kind`` / ``tipo``).
RELATION_KIND_LABELS: dict[str, str] = {
    "convenzione_art14": "Convenzione ex art. 14",
    "tirocinio": "Tirocinio",
    "isola_formativa": "Isola formativa",
    "invio": "Invio (segnalazione)",
    "presa_in_carico_congiunta": "Presa in carico congiunta",
    "partenariato": "Partenariato",
    "tavolo_di_rete": "Tavolo di rete",
    "commessa": "Commessa",
    "consulenza": "Consulenza",
    "altro": "Altro",
}
RELATION_KINDS: tuple[str, ...] = tuple(RELATION_KIND_LABELS)

#: Levels of collaboration on the PARTNER scale (1 weakest, 4 strongest).
LEVEL_LABELS: dict[int, str] = {
    1: "conoscenza",
    2: "cooperazione",
    3: "coordinamento",
    4: "integrazione",
}
LEVELS: tuple[int, ...] = tuple(LEVEL_LABELS)

#: ``actors.geocoded`` of an organisation whose coordinates were given in the file.
GEOCODED_GIVEN = "coordinate"
#: ``actors.geocoded`` of an organisation placed at its comune's point (approximate).
GEOCODED_COMUNE = "comune"
#: The categories of the categorical ``actors.geocoded`` column, in this order.
GEOCODED_CATEGORIES: tuple[str, ...] = (GEOCODED_GIVEN, GEOCODED_COMUNE)

ColumnType = Literal["id", "text", "kind", "date", "float", "int", "level"]


@dataclass(frozen=True)
class Column:
    """One column of a table.

    Attributes
    ----------
    name : str
        Canonical English name, used in memory and when writing.
    aliases : tuple of str
        Other accepted headers (Italian first); matched after :func:`normalize_header`.
    type : str
        How values are parsed and validated: ``id``, ``text``, ``kind`` (controlled
        vocabulary), ``date``, ``float``, ``int`` or ``level``.
    required : bool
        Whether the column must be present in the file.
    italian : str
        The header used in Italian outputs (the Excel template).
    description : str
        Italian explanation shown in the template's help sheet.
    """

    name: str
    aliases: tuple[str, ...] = ()
    type: ColumnType = "text"
    required: bool = False
    italian: str = ""
    description: str = ""


@dataclass(frozen=True)
class Table:
    """A table of the map: its name, accepted file names and columns."""

    name: str
    file_names: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = True
    italian: str = ""
    vocabulary: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        """Canonical column names, in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        msg = f"table {self.name!r} has no column {name!r}"
        raise KeyError(msg)


_SINCE = Column(
    "since", ("dal", "data_inizio", "inizio", "valido_dal"), "date", italian="dal",
    description="Data da cui la riga è valida (gg/mm/aaaa o aaaa-mm-gg); vuoto = da sempre.",
)
_UNTIL = Column(
    "until", ("al", "data_fine", "fine", "valido_al"), "date", italian="al",
    description="Data fino a cui la riga è valida (inclusa); vuoto = ancora valida.",
)
_NOTES = Column("notes", ("note", "annotazioni"), italian="note",
                description="Note libere (mai dati personali).")
_VERIFIED = Column(
    "verified", ("verificato_il", "verificato", "data_verifica", "verified_on"), "date",
    italian="verificato_il",
    description="Data in cui qualcuno ha confermato per l'ultima volta che i dati della riga "
    "sono ancora corretti (facoltativa; si consiglia di verificare ogni 12 mesi).",
)

ACTORS = Table(
    name="actors",
    file_names=("actors", "attori", "organizzazioni", "enti"),
    italian="attori",
    vocabulary=ACTOR_KINDS,
    columns=(
        Column("id", ("codice", "identificativo", "id_attore"), "id", True, "id",
               "Codice univoco e stabile dell'organizzazione (es. BG-001)."),
        Column("name", ("nome", "denominazione", "ragione_sociale"), "text", True, "nome",
               "Denominazione dell'organizzazione."),
        Column("kind", ("tipo", "tipologia", "tipo_attore"), "kind", True, "tipo",
               "Tipo di organizzazione, dall'elenco."),
        Column("comune", ("municipality", "citta", "localita"), "text", True, "comune",
               "Comune della sede."),
        Column("address", ("indirizzo", "via", "sede"), "text", italian="indirizzo",
               description="Indirizzo della sede (facoltativo)."),
        Column("lat", ("latitudine", "latitude", "y"), "float", italian="latitudine",
               description="Latitudine WGS84 (facoltativa; se vuota si usa il comune)."),
        Column("lon", ("longitudine", "longitude", "lng", "x"), "float", italian="longitudine",
               description="Longitudine WGS84 (facoltativa; se vuota si usa il comune)."),
        Column("territory", ("territorio", "provincia"), "text", italian="territorio",
               description="Territorio del progetto (es. bergamo); se vuoto si ricava dal comune."),
        _SINCE,
        _UNTIL,
        Column("website", ("sito", "sito_web", "web", "url"), "text", italian="sito_web",
               description="Sito web dell'organizzazione (http:// o https://)."),
        Column("email", ("e_mail", "posta_elettronica", "mail", "pec"), "text",
               italian="email", description="E-mail istituzionale (mai di una persona)."),
        Column("phone", ("telefono", "tel", "recapito"), "text", italian="telefono",
               description="Telefono del centralino o dell'ufficio."),
        _NOTES,
        Column("geocoded", ("geocodifica",), "text", italian="geocodifica",
               description="Come è stata ottenuta la posizione: 'coordinate' (o vuoto) = "
               "coordinate date, 'comune' = punto nel comune (posizione approssimata)."),
        _VERIFIED,
    ),
)

OPPORTUNITIES = Table(
    name="opportunities",
    file_names=("opportunities", "opportunita", "opportunità"),
    italian="opportunita",
    required=False,
    vocabulary=OPPORTUNITY_TYPES,
    columns=(
        Column("id", ("codice", "identificativo", "id_opportunita"), "id", True, "id",
               "Codice univoco dell'opportunità."),
        Column("actor_id", ("attore", "id_attore", "codice_attore", "ente"), "id", True,
               "id_attore", "Codice dell'organizzazione che offre l'opportunità."),
        Column("type", ("tipo", "tipologia", "tipo_opportunita"), "kind", True, "tipo",
               "Tipo di opportunità, dall'elenco."),
        Column("name", ("nome", "denominazione", "titolo"), "text", italian="nome",
               description="Nome dell'opportunità."),
        _SINCE,
        _UNTIL,
        Column("capacity", ("posti", "capienza", "capacita"), "int", italian="posti",
               description="Numero di posti disponibili (intero)."),
        Column("target", ("destinatari", "beneficiari"), "text", italian="destinatari",
               description="A chi si rivolge (es. fascia 3 e 4 del Collocamento Mirato)."),
        _NOTES,
        _VERIFIED,
    ),
)

RELATIONS = Table(
    name="relations",
    file_names=("relations", "relazioni", "legami", "collaborazioni"),
    italian="relazioni",
    vocabulary=RELATION_KINDS,
    columns=(
        Column("source", ("da", "origine", "attore_1", "id_attore_1", "sorgente"), "id", True,
               "da", "Codice della prima organizzazione."),
        Column("target", ("a", "destinazione", "attore_2", "id_attore_2", "verso"), "id", True,
               "a", "Codice della seconda organizzazione."),
        Column("kind", ("tipo", "tipologia", "tipo_relazione"), "kind", True, "tipo",
               "Tipo di relazione, dall'elenco."),
        Column("level", ("livello", "intensita", "livello_collaborazione"), "level", True,
               "livello", "Livello di collaborazione (scala PARTNER): 1 conoscenza, "
               "2 cooperazione, 3 coordinamento, 4 integrazione."),
        _SINCE,
        _UNTIL,
        _NOTES,
    ),
)

#: The three tables, by canonical name.
TABLES: dict[str, Table] = {t.name: t for t in (ACTORS, OPPORTUNITIES, RELATIONS)}


def normalize_header(text: str) -> str:
    """Normalise a header or a vocabulary value for forgiving comparison.

    Lower-cases, strips accents, turns every run of non-alphanumeric characters
    into a single underscore and trims underscores at both ends.

    Examples
    --------
    >>> normalize_header("  Opportunità ")
    'opportunita'
    >>> normalize_header("Tipo Attore")
    'tipo_attore'
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "_", ascii_text.lower()).strip("_")


#: What a "legame" (tie) counts, in one Italian sentence shown on every page.
TIE_DEFINITION = (
    "Un legame è una coppia di organizzazioni con almeno una relazione attiva alla data: "
    "più relazioni tra le stesse due organizzazioni contano come un solo legame, al livello "
    "di collaborazione più alto."
)
