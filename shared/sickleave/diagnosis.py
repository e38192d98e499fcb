"""What a main diagnosis code says at three levels: its category, its statistics group, its chapter.

- The **category** is the letter and two digits ("F43" of "F438A"), as statistics keep it (docs/rules.md §6.1).
- The **group** is the coarse class statistics count by ("psychiatric", docs/rules.md §6.3).
- The **chapter** (ICD-10-SE diagnoskapitel) is the diagnosis filter of Rehabstöd's sick-leave list. A chapter
  is named by its code range ("F00-F99", as Rehabstöd's `diagnoskapitel.txt` does), which is the value a client
  filters on; the roman numeral and the Swedish title are for display.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

_CATEGORY = re.compile(r"^[A-Z][0-9]{2}", re.ASCII)


class DiagnosisChapter(BaseModel):
    model_config = ConfigDict(frozen=True)

    first_category: str
    last_category: str
    numeral: str
    title: str

    @property
    def chapter_id(self) -> str:
        return f"{self.first_category}-{self.last_category}"

    def contains(self, category: str) -> bool:
        # Categories are a letter and two digits, so their text order is the classification's order.
        return self.first_category <= category <= self.last_category


def _chapter(first: str, last: str, numeral: str, title: str) -> DiagnosisChapter:
    return DiagnosisChapter(first_category=first, last_category=last, numeral=numeral, title=title)


DIAGNOSIS_CHAPTERS: tuple[DiagnosisChapter, ...] = (
    _chapter("A00", "B99", "I", "Vissa infektionssjukdomar och parasitsjukdomar"),
    _chapter("C00", "D48", "II", "Tumörer"),
    _chapter("D50", "D89", "III", "Sjukdomar i blod och blodbildande organ samt vissa rubbningar i immunsystemet"),
    _chapter("E00", "E90", "IV", "Endokrina sjukdomar, nutritionsrubbningar och ämnesomsättningssjukdomar"),
    _chapter("F00", "F99", "V", "Psykiska sjukdomar och syndrom samt beteendestörningar"),
    _chapter("G00", "G99", "VI", "Sjukdomar i nervsystemet"),
    _chapter("H00", "H59", "VII", "Sjukdomar i ögat och närliggande organ"),
    _chapter("H60", "H95", "VIII", "Sjukdomar i örat och mastoidutskottet"),
    _chapter("I00", "I99", "IX", "Cirkulationsorganens sjukdomar"),
    _chapter("J00", "J99", "X", "Andningsorganens sjukdomar"),
    _chapter("K00", "K93", "XI", "Matsmältningsorganens sjukdomar"),
    _chapter("L00", "L99", "XII", "Hudens och underhudens sjukdomar"),
    _chapter("M00", "M99", "XIII", "Sjukdomar i muskuloskeletala systemet och bindväven"),
    _chapter("N00", "N99", "XIV", "Sjukdomar i urin- och könsorganen"),
    _chapter("O00", "O99", "XV", "Graviditet, förlossning och barnsängstid"),
    _chapter("P00", "P96", "XVI", "Vissa perinatala tillstånd"),
    _chapter("Q00", "Q99", "XVII", "Medfödda missbildningar, deformiteter och kromosomavvikelser"),
    _chapter(
        "R00",
        "R99",
        "XVIII",
        "Symtom, sjukdomstecken och onormala kliniska fynd och laboratoriefynd som ej klassificeras på annan plats",
    ),
    _chapter("S00", "T98", "XIX", "Skador, förgiftningar och vissa andra följder av yttre orsaker"),
    _chapter("V01", "Y98", "XX", "Yttre orsaker till sjukdom och död"),
    _chapter("Z00", "Z99", "XXI", "Faktorer av betydelse för hälsotillståndet och för kontakter med hälso- och sjukvården"),
    _chapter("U00", "U99", "XXII", "Koder för särskilda ändamål"),
)

CHAPTERS_BY_ID: dict[str, DiagnosisChapter] = {chapter.chapter_id: chapter for chapter in DIAGNOSIS_CHAPTERS}


def diagnosis_chapter(normalised_code: str) -> DiagnosisChapter | None:
    """The chapter of a normalised code ("F438A"), by its category (letter and two digits); none outside."""
    match = _CATEGORY.match(normalised_code)
    if match is None:
        return None
    return next((chapter for chapter in DIAGNOSIS_CHAPTERS if chapter.contains(match.group())), None)


def diagnosis_category(code: str) -> str:
    """The category of a code: its letter and two digits, upper case ("f438a" -> "F43")."""
    return code[:3].upper()


_GROUP_RANGES = (
    ("F00", "F99", "psychiatric"),
    ("M00", "M99", "musculoskeletal"),
    ("A00", "E90", "somatic"),
    ("G00", "L99", "somatic"),
    ("N00", "N99", "somatic"),
    ("O00", "O99", "pregnancy"),
    ("R00", "R99", "symptoms"),
    ("Z00", "Z99", "factors"),
)
_OTHER_LETTERS = frozenset("PQSTUVWXY")


def diagnosis_group(code: str) -> str:
    """The group of a main diagnosis, judged on its letter and two digits (docs/rules.md §6.3)."""
    head = diagnosis_category(code)
    for first, last, group in _GROUP_RANGES:
        if first <= head <= last:
            return group
    if head[:1] in _OTHER_LETTERS:
        return "other"
    return "unknown"
