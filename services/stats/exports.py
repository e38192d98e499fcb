"""A report as CSV or xlsx, with the selection it was made from (docs/statistics.md §4)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook

from services.stats.queries import Report
from services.stats.reports import TOTAL, Cell
from services.stats.statistics import SEXES

# Official Swedish statistics write a hidden figure as "..": never a silent 0.
HIDDEN = ".."
SEX_HEADINGS = {"F": "Kvinnor", "M": "Män", "UNKNOWN": "Okänt kön", TOTAL: "Totalt"}
SELECTION_HEADINGS = {
    "report": "Rapport",
    "breakdown": "Indelning",
    "view": "Vy",
    "level": "Nivå",
    "first": "Från",
    "last": "Till",
    "months": "Antal månader",
    "units": "Vårdenheter",
    "careProviders": "Vårdgivare",
    "sexes": "Kön",
    "diagnosisGroups": "Diagnosgrupper",
    "lengthBands": "Längdintervall",
    "ageBands": "Åldersgrupper",
    "exact": "Exakta tal (egen enhet)",
    "threshold": "Gräns för små tal",
    "madeAt": "Skapad",
}


def selection_lines(report: Report) -> list[tuple[str, str]]:
    chosen = report.selection.model_dump(mode="json", by_alias=True)
    lines = [(SELECTION_HEADINGS.get(name, name), _selection_value(value)) for name, value in chosen.items()]
    if not report.selection.exact:
        explained = f'"{HIDDEN}": färre än {report.selection.threshold} fall, eller dolt så att ett sådant värde inte kan räknas fram ur summorna'
        lines.append(("Dolda värden", explained))
    return lines


def _selection_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _optional(value: float | None) -> Any:
    return "" if value is None else value


def _sex_columns(report: Report) -> list[str]:
    for period in report.periods:
        for table in period.tables:
            for row in table.rows:
                return list(row.cells)
    return [*SEXES, TOTAL]


def _shown(cell: Cell | None) -> Any:
    if cell is None:
        return ""
    return HIDDEN if cell.suppressed else cell.value


def table_rows(report: Report) -> list[list[Any]]:
    """One heading row, then one row per period, scope and category: value, share and rate per sex."""
    sexes = _sex_columns(report)
    heading = ["Period", "Nivå", "HSA-id", "Kategori"]
    for sex in sexes:
        heading += [SEX_HEADINGS[sex], f"Andel {SEX_HEADINGS[sex].lower()}", f"{SEX_HEADINGS[sex]} per 1 000 listade"]
    rows: list[list[Any]] = [heading]
    for period in report.periods:
        for table in period.tables:
            for row in (*table.rows, *([table.total] if table.total else [])):
                line: list[Any] = [period.period, table.level, table.hsa_id or "", row.category]
                for sex in sexes:
                    cell = row.cells.get(sex)
                    line += [_shown(cell), _optional(cell.share if cell else None), _optional(cell.per1000 if cell else None)]
                rows.append(line)
    return rows


def as_csv(report: Report) -> str:
    """CSV with the selection as `#` lines above the table."""
    out = io.StringIO()
    for heading, value in selection_lines(report):
        out.write(f"# {heading}: {value}\n")
    csv.writer(out, lineterminator="\n").writerows(table_rows(report))
    return out.getvalue()


def as_xlsx(report: Report) -> bytes:
    """A workbook with the table on one sheet and the selection on another ("Urval")."""
    workbook = Workbook()
    table = workbook.active
    assert table is not None  # a new workbook always has its first sheet
    table.title = "Tabell"
    for line in table_rows(report):
        table.append(line)
    selection = workbook.create_sheet("Urval")
    for heading, value in selection_lines(report):
        selection.append([heading, value])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
