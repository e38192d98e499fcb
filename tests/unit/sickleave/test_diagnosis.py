"""ICD-10-SE chapters of a normalised diagnosis code."""

import string

import pytest

from shared.sickleave.diagnosis import CHAPTERS_BY_ID, DIAGNOSIS_CHAPTERS, diagnosis_chapter


@pytest.mark.parametrize(
    ("code", "chapter_id", "numeral"),
    [
        ("A00", "A00-B99", "I"),
        ("B99", "A00-B99", "I"),
        ("C00", "C00-D48", "II"),
        ("D48", "C00-D48", "II"),
        ("D50", "D50-D89", "III"),
        ("E90", "E00-E90", "IV"),
        ("F438A", "F00-F99", "V"),
        ("G35", "G00-G99", "VI"),
        ("H59", "H00-H59", "VII"),
        ("H60", "H60-H95", "VIII"),
        ("I10", "I00-I99", "IX"),
        ("J45", "J00-J99", "X"),
        ("K93", "K00-K93", "XI"),
        ("L40", "L00-L99", "XII"),
        ("M545", "M00-M99", "XIII"),
        ("N39", "N00-N99", "XIV"),
        ("O26", "O00-O99", "XV"),
        ("P96", "P00-P96", "XVI"),
        ("Q65", "Q00-Q99", "XVII"),
        ("R52", "R00-R99", "XVIII"),
        ("S52", "S00-T98", "XIX"),
        ("T98", "S00-T98", "XIX"),
        ("V01", "V01-Y98", "XX"),
        ("W19", "V01-Y98", "XX"),
        ("Y98", "V01-Y98", "XX"),
        ("Z73", "Z00-Z99", "XXI"),
        ("U071", "U00-U99", "XXII"),
    ],
)
def test_a_code_falls_in_the_chapter_of_its_category(code: str, chapter_id: str, numeral: str):
    chapter = diagnosis_chapter(code)

    assert chapter is not None
    assert (chapter.chapter_id, chapter.numeral) == (chapter_id, numeral)


@pytest.mark.parametrize("code", ["D49", "D90", "E91", "H96", "K94", "P97", "T99", "V00", "Y99", "", "F", "F3", "1AB", "f32"])
def test_codes_between_or_outside_the_chapters_have_none(code: str):
    assert diagnosis_chapter(code) is None


def test_the_psychiatric_chapter_has_its_swedish_title():
    chapter = CHAPTERS_BY_ID["F00-F99"]

    assert (chapter.numeral, chapter.title) == ("V", "Psykiska sjukdomar och syndrom samt beteendestörningar")


def test_there_are_twenty_two_chapters_and_no_category_is_in_two():
    categories = [f"{letter}{number:02d}" for letter in string.ascii_uppercase for number in range(100)]

    assert len(DIAGNOSIS_CHAPTERS) == 22
    assert all(sum(chapter.contains(category) for chapter in DIAGNOSIS_CHAPTERS) <= 1 for category in categories)
