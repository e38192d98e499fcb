"""Exports carry their selection and write a hidden cell as `..`, never as 0 (docs/statistics.md §4)."""

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from services.stats.exports import as_csv, as_xlsx
from services.stats.queries import Report, Selection, ongoing_report
from services.stats.reports import Level, Organisation, Shown
from services.stats.statistics import EVERY_CASE, CaseFact, OngoingDimension

DAY = date(2026, 3, 15)
MARCH = (date(2026, 3, 1), date(2026, 3, 31), 31)
CASES = [CaseFact(f"c{number}", "F" if number % 9 else "M", "U1", "P1", "psychiatric", *MARCH) for number in range(18)]


def report(threshold: int | None) -> Report:
    selection = Selection(
        report="ongoing", breakdown="sex", view="onDate", level="unit", first=DAY, last=DAY, units=("U1",), exact=threshold is None,
        threshold=threshold, made_at=datetime(2026, 3, 15, 12, tzinfo=UTC),
    )  # fmt: skip
    organisation = Organisation({"U1": "P1"})
    return ongoing_report(CASES, organisation, DAY, OngoingDimension.SEX, Shown(level=Level.UNIT), EVERY_CASE, threshold, None, selection)


def test_a_published_csv_says_what_it_was_made_from_and_shows_hidden_cells_as_two_dots():
    lines = as_csv(report(5)).splitlines()
    assert "# Rapport: ongoing" in lines
    assert "# Vårdenheter: U1" in lines
    assert "# Gräns för små tal: 5" in lines
    assert any(line.startswith("# Dolda värden:") for line in lines)
    header = next(line for line in lines if not line.startswith("#"))
    assert header.startswith("Period,Nivå,HSA-id,Kategori,Kvinnor,Andel kvinnor")
    # 16 women and 2 men: the men are hidden, and with them the women, or the total would give them away.
    (row,) = [line for line in lines if line.startswith("2026-03-15,unit,U1,ALL")]
    assert row.split(",")[4] == ".." and row.split(",")[7] == ".."


def test_an_exact_export_has_no_hidden_cells_and_no_threshold():
    lines = as_csv(report(None)).splitlines()
    assert "# Exakta tal (egen enhet): True" in lines
    assert not any(line.startswith("# Dolda värden:") for line in lines)
    assert "2026-03-15,unit,U1,ALL,16,0.8889,,2,0.1111,,0,,,18,," in lines


def test_a_workbook_has_the_table_and_the_selection_on_sheets_of_their_own():
    workbook = load_workbook(io.BytesIO(as_xlsx(report(5))))
    assert workbook.sheetnames == ["Tabell", "Urval"]
    rows = [[cell.value for cell in row] for row in workbook["Tabell"].iter_rows()]
    assert rows[1][:5] == ["2026-03-15", "unit", "U1", "ALL", ".."]
    assert ["Gräns för små tal", "5"] in [[cell.value for cell in row] for row in workbook["Urval"].iter_rows()]
