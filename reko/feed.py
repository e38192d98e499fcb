"""A seeded, synthetic certificate feed (`sickleave.certificates.v1`) for demos, tests and benchmarks.

Everything here is made up. Patients get fake personal identity numbers in Skatteverket's test-number
style (serial 980-999, correct Luhn digit); care units, providers and doctors are invented. The same
seed always gives the same feed, byte for byte.

The feed tries to look like a region's real certificate flow (FK 7804, see docs/events.md §2):

- a diagnosis mix dominated by stress-related and depressive disorders, back and shoulder problems
  and upper respiratory infections, with a tail of fractures, arthrosis, cancer, stroke;
- more women than men in psychiatric diagnoses (about 70/30), musculoskeletal close to even;
- heavy-tailed case lengths per diagnosis (log-normal around an FMB-ish typical length, capped a
  little beyond the FMB maximum), so most cases last one to four weeks and a few run past a year;
- renewals as new certificates with relation `FRLANG`, usually starting the day after the previous
  one ends, sometimes after a short gap and occasionally after more than five days (a new case);
- degrees starting at 100 % and stepping down (100 -> 75/50 -> 25) in later renewals;
- about 1 % revocations (with or without a re-issued certificate) and about 1 % replacements
  (relation `ERSATT`), a few test certificates, a few `ag7804`, rare `avstangningSmittskydd`;
- a handful of patients with a second case later in the period, ~2 % samordningsnummer, ~0.5 %
  protected identities, and identity numbers written in the different accepted forms.

Run `python -m reko.feed --seed 7 --patients 200 --out feed.jsonl` to write one event per line.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.personnummer import SAMORDNINGSNUMMER_DAY_OFFSET, luhn_check_digit

STOCKHOLM = ZoneInfo("Europe/Stockholm")

SIGNED_TYPE = "se.sickleave.certificate.signed.v1"
REVOKED_TYPE = "se.sickleave.certificate.revoked.v1"
SOURCE = "urn:reko:synthetic-feed"

NUVARANDE_ARBETE = "NUVARANDE_ARBETE"
ARBETSSOKANDE = "ARBETSSOKANDE"
FORALDRALEDIG = "FORALDRALEDIG"
STUDIER = "STUDIER"
_OCCUPATION_ORDER = (NUVARANDE_ARBETE, ARBETSSOKANDE, FORALDRALEDIG, STUDIER)

_PROGNOSIS_DAYS = (30, 60, 90, 180, 365)


@dataclass(frozen=True)
class FeedSettings:
    seed: int = 7
    patients: int = 200
    start: date = date(2026, 1, 1)
    days: int = 180  # signing dates spread over [start, start + days)
    care_units: int = 6  # spread over 1-3 care providers
    revocation_rate: float = 0.01
    replacement_rate: float = 0.01


# --------------------------------------------------------------------------------------------------
# Diagnoses


@dataclass(frozen=True)
class _Dx:
    code: str  # dotted ICD-10-SE form; the no-dot form is written too
    weight: float  # share of new cases (relative)
    female_share: float
    median_days: int  # typical case length
    sigma: float  # log-normal spread of the case length
    cap_days: int  # longest case we generate (a little beyond the FMB maximum)
    first_days: tuple[int, ...]  # usual lengths of the first certificate
    full_time_start: float  # probability that the first period is 100 %
    secondary: tuple[str, ...] = ()  # common bidiagnoser

    @property
    def group(self) -> str:
        return self.code[0]


_DIAGNOSES: tuple[_Dx, ...] = (
    # Psychiatric (F): the largest group, about 70 % women.
    _Dx("F43.8A", 8.0, 0.75, 100, 0.95, 600, (14, 14, 21, 28, 28), 0.80, ("Z73.0", "F32.0")),  # utmattningssyndrom
    _Dx("F43.2", 6.0, 0.70, 35, 0.85, 300, (14, 14, 21, 28), 0.70, ("Z73.0", "Z56.3")),  # anpassningsstörning
    _Dx("F43.0", 4.0, 0.68, 14, 0.70, 150, (7, 14, 14), 0.85, ("Z73.0",)),  # akut stressreaktion
    _Dx("F32.1", 5.0, 0.66, 65, 0.95, 540, (14, 21, 28, 28), 0.75, ("F41.1", "Z73.0")),  # medelsvår depression
    _Dx("F32.0", 2.0, 0.66, 24, 0.80, 240, (14, 14, 21), 0.55, ("F41.1",)),  # lindrig depression
    _Dx("F33.1", 2.5, 0.66, 95, 0.95, 600, (14, 28, 28), 0.75, ("F41.1",)),  # recidiverande depression
    _Dx("F41.1", 4.0, 0.70, 24, 0.90, 365, (14, 14, 21, 28), 0.65, ("F32.0",)),  # generaliserat ångestsyndrom
    _Dx("F41.0", 1.0, 0.68, 14, 0.70, 180, (7, 14, 14), 0.70, ("F32.0",)),  # paniksyndrom
    _Dx("F31.3", 0.5, 0.55, 110, 0.95, 730, (28, 28, 42), 0.90),  # bipolär sjukdom
    # Musculoskeletal (M): close to even between the sexes.
    _Dx("M54.5", 7.0, 0.55, 10, 0.80, 180, (7, 7, 14, 14), 0.85),  # lumbago
    _Dx("M54.4", 2.5, 0.52, 24, 0.85, 240, (14, 14, 21), 0.85),  # lumbago med ischias
    _Dx("M51.1", 1.5, 0.48, 40, 0.85, 300, (14, 21, 28), 0.90),  # diskbråck
    _Dx("M75.1", 2.5, 0.50, 50, 0.75, 300, (14, 28, 42), 0.85),  # rotatorkuffskada
    _Dx("M75.4", 1.0, 0.52, 21, 0.70, 150, (14, 14, 21), 0.75),  # impingement
    _Dx("M17.1", 1.5, 0.57, 60, 0.75, 300, (14, 28, 42, 56), 0.90),  # gonartros
    _Dx("M16.1", 1.0, 0.58, 60, 0.75, 300, (28, 42, 56), 0.90),  # coxartros
    _Dx("M79.7", 1.5, 0.85, 75, 1.05, 730, (14, 28, 28), 0.55, ("R52.2", "F32.0")),  # fibromyalgi
    # Infections: short.
    _Dx("J06.9", 6.0, 0.55, 7, 0.40, 21, (5, 7, 7, 10), 0.98),  # övre luftvägsinfektion
    _Dx("A08.4", 1.0, 0.50, 4, 0.40, 10, (3, 4, 5, 7), 1.00),  # virusorsakad tarminfektion
    # Injuries (S).
    _Dx("S82.6", 1.5, 0.52, 45, 0.60, 200, (28, 42, 42, 56), 0.95),  # fotledsfraktur
    _Dx("S52.5", 1.0, 0.65, 35, 0.60, 150, (14, 28, 42), 0.90),  # distal radiusfraktur
    _Dx("S93.4", 0.8, 0.50, 10, 0.50, 42, (7, 14), 0.90),  # fotledsdistorsion
    # Somatic, long.
    _Dx("C50.9", 1.0, 0.99, 160, 0.80, 600, (30, 60, 90), 0.95, ("Z51.1",)),  # bröstcancer
    _Dx("I63.9", 0.4, 0.42, 120, 0.80, 540, (28, 42, 60), 0.95, ("I10.9",)),  # hjärninfarkt
    _Dx("G56.0", 0.8, 0.70, 21, 0.60, 90, (14, 14, 21), 0.85),  # karpaltunnelsyndrom
    _Dx("R53.9", 0.6, 0.65, 14, 0.70, 120, (7, 14, 14), 0.70),  # sjukdomskänsla och trötthet
)
_DX_BY_CODE = {dx.code: dx for dx in _DIAGNOSES}
# Diagnoses that, when the case drags on, are often re-diagnosed in a later renewal.
_RE_DIAGNOSIS = {"F43.0": ("F43.8A", "F43.2"), "F43.2": ("F43.8A", "F32.1"), "F41.1": ("F32.1",), "F32.0": ("F32.1",)}
_SECONDARY_PROBABILITY = 0.25


# --------------------------------------------------------------------------------------------------
# Care units, providers, doctors


@dataclass(frozen=True)
class _Provider:
    hsa_id: str
    name: str


@dataclass(frozen=True)
class _Unit:
    hsa_id: str
    name: str
    kind: str  # "vc" (primary care), "psyk", "ort"
    provider: _Provider
    doctors: tuple[str, ...]
    size: float


_PROVIDERS = (
    _Provider("SE2321000000-1000", "Region Exempel"),
    _Provider("SE5561234567-1000", "Vårdbolaget Norr AB"),
    _Provider("SE5569876543-1000", "Läkarhuset Syd AB"),
)
_UNIT_POOL = (
    ("Vårdcentralen Norra", "vc"),
    ("Vårdcentralen Södra", "vc"),
    ("Psykiatrimottagningen Väst", "psyk"),
    ("Ortopedmottagningen Länssjukhuset", "ort"),
    ("Vårdcentralen Hamnen", "vc"),
    ("Vårdcentralen Östra", "vc"),
    ("Vårdcentralen Centrum", "vc"),
    ("Allmänpsykiatriska mottagningen Öst", "psyk"),
    ("Vårdcentralen Bergsjön", "vc"),
    ("Vårdcentralen Strandvägen", "vc"),
)
# How likely a patient with a diagnosis group is to belong to a unit of a kind.
_UNIT_AFFINITY = {
    "F": {"vc": 1.0, "psyk": 1.6, "ort": 0.01},
    "M": {"vc": 1.0, "psyk": 0.01, "ort": 0.9},
    "S": {"vc": 0.4, "psyk": 0.01, "ort": 3.0},
}
_DEFAULT_AFFINITY = {"vc": 1.0, "psyk": 0.02, "ort": 0.05}


def _build_units(rng: random.Random, count: int) -> list[_Unit]:
    count = max(1, count)
    n_providers = 1 if count == 1 else 2 if count <= 4 else 3
    specs = [
        (_UNIT_POOL[i % len(_UNIT_POOL)][0] + ("" if i < len(_UNIT_POOL) else f" {i // len(_UNIT_POOL) + 1}"), _UNIT_POOL[i % len(_UNIT_POOL)][1])
        for i in range(count)
    ]
    # Specialist clinics belong to the region; some of the primary care units are private.
    provider_of = [0] * count
    primary_care = [i for i, (_, kind) in enumerate(specs) if kind == "vc"]
    private_slots = max(n_providers - 1, len(primary_care) // 3)
    for slot, index in enumerate(reversed(primary_care[1:])):
        if slot >= private_slots or n_providers == 1:
            break
        provider_of[index] = 1 + slot % (n_providers - 1)
    units: list[_Unit] = []
    doctor_number = 1
    for i, (name, kind) in enumerate(specs):
        n_doctors = rng.randint(3, 5) if kind == "psyk" else rng.randint(4, 8)
        doctors = tuple(f"SE2321000000-{2000 + doctor_number + k}" for k in range(n_doctors))
        doctor_number += n_doctors
        size = round(rng.uniform(0.6, 1.4), 2)
        units.append(_Unit(f"SE2321000000-{1001 + i}", name, kind, _PROVIDERS[provider_of[i]], doctors, size))
    return units


# --------------------------------------------------------------------------------------------------
# Patients and personal identity numbers


@dataclass
class _Patient:
    birth: date
    sex: str  # "F" or "M"
    samordningsnummer: bool
    normalised: str  # 12 digits (birth day + 60 for a samordningsnummer)
    protected: bool
    occupations: tuple[str, ...]
    unit: _Unit
    doctor: str


def _make_person_id(rng: random.Random, birth: date, sex: str, samordning: bool, taken: set[str]) -> str | None:
    day = birth.day + (SAMORDNINGSNUMMER_DAY_OFFSET if samordning else 0)
    # Test-number style: serial 980-999; the third serial digit (index 10) gives the sex.
    serials = [s for s in range(980, 1000) if (s % 2 == 1) == (sex == "M")]
    rng.shuffle(serials)
    for serial in serials:
        nine = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{serial:03d}"
        normalised = f"{birth.year:04d}{birth.month:02d}{day:02d}{serial:03d}{luhn_check_digit(nine)}"
        if normalised not in taken:
            taken.add(normalised)
            return normalised
    return None


def _written_person_id(rng: random.Random, normalised: str) -> str:
    """The number in one of the accepted written forms; mostly the 12-digit one."""
    roll = rng.random()
    if roll < 0.85:
        return normalised
    if roll < 0.94:
        return f"{normalised[:8]}-{normalised[8:]}"
    if roll < 0.99:
        return f"{normalised[2:8]}-{normalised[8:]}"
    return normalised[2:]


_AGE_BANDS = ((18, 25, 0.11), (26, 35, 0.22), (36, 45, 0.25), (46, 55, 0.24), (56, 66, 0.18))


def _draw_age(rng: random.Random) -> int:
    low, high, _ = rng.choices(_AGE_BANDS, weights=[w for *_, w in _AGE_BANDS])[0]
    return rng.randint(low, high)


def _draw_occupations(rng: random.Random, age: int, sex: str) -> tuple[str, ...]:
    roll = rng.random()
    if age <= 25:
        main = STUDIER if roll < 0.28 else ARBETSSOKANDE if roll < 0.40 else NUVARANDE_ARBETE
    elif sex == "F" and age <= 42 and roll < 0.05:
        main = FORALDRALEDIG
    elif roll < 0.12:
        main = ARBETSSOKANDE
    else:
        main = NUVARANDE_ARBETE
    occupations = {main}
    if main == NUVARANDE_ARBETE and rng.random() < 0.03:
        occupations.add(STUDIER)
    if main == FORALDRALEDIG and rng.random() < 0.3:
        occupations.add(NUVARANDE_ARBETE)
    return tuple(code for code in _OCCUPATION_ORDER if code in occupations)


# --------------------------------------------------------------------------------------------------
# Certificates


@dataclass(eq=False)
class _Cert:
    seq: int
    patient: _Patient
    certificate_type: str
    signed: datetime
    unit: _Unit
    doctor: str
    diagnoses: list[str]
    periods: list[tuple[int, date, date]]  # (reductionPercent, from, to), in date order
    occupations: tuple[str, ...]
    prognosis: tuple[str, int | None] | None = None
    relations: list[tuple[str, _Cert]] = field(default_factory=list)
    test: bool = False
    smittskydd: bool = False
    revoked: datetime | None = None
    certificate_id: str = ""

    @property
    def end(self) -> date:
        return self.periods[-1][2]

    @property
    def start(self) -> date:
        return self.periods[0][1]


def _office_time(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(range(8, 17), weights=(6, 10, 10, 9, 5, 8, 9, 8, 5))[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=STOCKHOLM)


def _after(rng: random.Random, instant: datetime, low_minutes: int, high_minutes: int) -> datetime:
    moved = instant + timedelta(minutes=rng.randint(low_minutes, high_minutes), seconds=rng.randrange(60))
    return moved.replace(tzinfo=STOCKHOLM)


def _step_down(rng: random.Random, degree: int) -> int:
    if degree == 100:
        return 75 if rng.random() < 0.3 else 50
    if degree == 75:
        return 50
    return 25


def _prognosis(rng: random.Random, dx: _Dx, case_day: int, remaining: int, long_case: bool, optimism: float) -> tuple[str, int | None] | None:
    """An optional prognosis; the doctor's guess of the days left (from this certificate) is noisy."""
    if rng.random() < 0.35:
        return None
    guess = max(1, round(remaining * optimism * rng.uniform(0.85, 1.15)))
    if long_case and case_day > 90 and rng.random() < 0.5:
        return ("PROGNOS_OKLAR", None) if rng.random() < 0.7 else ("SANNOLIKT_INTE", None)
    if guess <= 30 and rng.random() < 0.6:
        return ("STOR_SANNOLIKHET", None)
    if guess > 365:
        return ("PROGNOS_OKLAR", None) if rng.random() < 0.6 else ("SANNOLIKT_INTE", None)
    if dx.group == "F" and rng.random() < 0.15:
        return ("PROGNOS_OKLAR", None)
    return ("ATER_X_ANTAL_DGR", next(d for d in _PROGNOSIS_DAYS if d >= guess))


class _Generator:
    def __init__(self, settings: FeedSettings) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self.window_start = settings.start
        self.window_end = settings.start + timedelta(days=max(1, settings.days))  # exclusive
        self.units = _build_units(self.rng, settings.care_units)
        self.certs: list[_Cert] = []
        self.taken_ids: set[str] = set()
        self._dx_weights = [dx.weight for dx in _DIAGNOSES]

    # -- helpers ---------------------------------------------------------------------------------

    def in_window(self, day: date) -> bool:
        return self.window_start <= day < self.window_end

    def weekday_or_near(self, day: date, *, prefer_earlier: bool) -> date:
        if day.weekday() < 5 or self.rng.random() < 0.04:  # a few weekend signatures (jour)
            return day
        earlier = day - timedelta(days=day.weekday() - 4)
        later = day + timedelta(days=7 - day.weekday())
        first, second = (earlier, later) if prefer_earlier else (later, earlier)
        if self.in_window(first):
            return first
        return second if self.in_window(second) else day

    def draw_dx(self) -> _Dx:
        return self.rng.choices(_DIAGNOSES, weights=self._dx_weights)[0]

    def draw_unit(self, group: str) -> _Unit:
        affinity = _UNIT_AFFINITY.get(group, _DEFAULT_AFFINITY)
        weights = [unit.size * affinity[unit.kind] for unit in self.units]
        return self.rng.choices(self.units, weights=weights)[0]

    def other_unit(self, unit: _Unit) -> _Unit:
        others = [u for u in self.units if u is not unit]
        if not others:
            return unit
        same_provider = [u for u in others if u.provider is unit.provider]
        if same_provider and self.rng.random() < 0.7:
            return self.rng.choice(same_provider)
        return self.rng.choice(others)

    def new_patient(self, dx: _Dx, when: date) -> _Patient | None:
        rng = self.rng
        sex = "F" if rng.random() < dx.female_share else "M"
        age = _draw_age(rng)
        if dx.code == "I63.9" or dx.code.startswith(("M16", "M17")):
            age = max(age, rng.randint(45, 66))
        birth = date(when.year - age - 1, 1, 1) + timedelta(days=rng.randrange(365))
        samordning = rng.random() < 0.02
        normalised = _make_person_id(rng, birth, sex, samordning, self.taken_ids)
        if normalised is None:
            return None
        unit = self.draw_unit(dx.group)
        return _Patient(
            birth=birth,
            sex=sex,
            samordningsnummer=samordning,
            normalised=normalised,
            protected=rng.random() < 0.005,
            occupations=_draw_occupations(rng, age, sex),
            unit=unit,
            doctor=rng.choice(unit.doctors),
        )

    def add(self, cert: _Cert) -> _Cert:
        self.certs.append(cert)
        return cert

    def cert(self, patient: _Patient, signed: datetime, unit: _Unit, doctor: str, **fields) -> _Cert:
        return self.add(
            _Cert(
                seq=len(self.certs),
                patient=patient,
                certificate_type=fields.pop("certificate_type", "fk7804"),
                signed=signed,
                unit=unit,
                doctor=doctor,
                **fields,
            )
        )

    def diagnoses_for(self, dx_code: str) -> list[str]:
        dx = _DX_BY_CODE[dx_code]
        codes = [dx_code]
        if dx.secondary and self.rng.random() < _SECONDARY_PROBABILITY:
            codes.append(self.rng.choice(dx.secondary))
        return codes

    # -- cases -----------------------------------------------------------------------------------

    def case(self, patient: _Patient, dx: _Dx, first_sign: date) -> date | None:
        """Generate one case (a first certificate and its renewals); return the last day certified."""
        rng = self.rng
        length = round(math.exp(math.log(dx.median_days) + dx.sigma * rng.gauss(0.0, 1.0)))
        length = max(3, min(dx.cap_days, length))
        long_case = length > 90
        optimism = rng.uniform(0.6, 1.3)  # how this doctor's prognoses compare with what happens

        backdate = rng.choices((0, 1, 2, 3, 5, 7), weights=(62, 14, 10, 7, 4, 3))[0]
        segment_start = first_sign - timedelta(days=backdate)
        sign_day = first_sign
        dx_code = dx.code
        rediagnosed = False
        smittskydd = dx.code == "A08.4" and rng.random() < 0.3
        degree = 100 if rng.random() < dx.full_time_start else (50 if rng.random() < 0.75 else 75)
        unit, doctor = patient.unit, patient.doctor
        covered = 0  # certified days so far
        previous: _Cert | None = None
        last_end: date | None = None
        index = 0

        while covered < length:
            remaining = length - covered
            if index == 0:
                seg = min(remaining, rng.choice(dx.first_days))
            else:
                options = (14, 14, 21, 28, 28, 30) if index < 3 else (28, 30, 42, 56, 60, 90)
                seg = min(remaining, rng.choice(options))
            if remaining - seg < 5:
                seg = remaining
            seg_end = segment_start + timedelta(days=seg - 1)

            # Degrees: the first certificate mostly 100 %, stepping down in later renewals.
            fraction = covered / length
            if index > 0 and degree > 25 and rng.random() < (0.15 + 0.45 * fraction) * (1.0 if length > 28 else 0.3):
                degree = _step_down(rng, degree)
            elif index > 0 and degree < 100 and rng.random() < 0.04:
                degree = 100  # a setback
            periods: list[tuple[int, date, date]]
            if seg >= 14 and degree > 25 and length > 28 and rng.random() < (0.12 + 0.3 * fraction):
                split = rng.randint(7, seg - 7)
                lower = _step_down(rng, degree)
                periods = [
                    (degree, segment_start, segment_start + timedelta(days=split - 1)),
                    (lower, segment_start + timedelta(days=split), seg_end),
                ]
                degree = lower
            else:
                periods = [(degree, segment_start, seg_end)]

            if index > 0 and not rediagnosed and dx_code in _RE_DIAGNOSIS and covered >= 45 and rng.random() < 0.35:
                dx_code = rng.choice(_RE_DIAGNOSIS[dx_code])
                rediagnosed = True

            signed = _office_time(rng, sign_day)
            if previous is not None and signed <= previous.signed:
                signed = _after(rng, previous.signed, 20, 240)
            cert = self.cert(
                patient,
                signed,
                unit,
                doctor,
                diagnoses=self.diagnoses_for(dx_code),
                periods=periods,
                occupations=patient.occupations,
                prognosis=_prognosis(rng, _DX_BY_CODE[dx_code], covered + 1, remaining, long_case, optimism),
                relations=[("FRLANG", previous)] if previous is not None else [],
                smittskydd=smittskydd,
            )
            if NUVARANDE_ARBETE in cert.occupations and rng.random() < 0.015:
                self.employer_copy(cert)

            cert, stop = self.accident(cert)
            covered += seg
            last_end = cert.end
            if stop:
                return last_end
            previous = cert

            if covered >= length:
                break
            # The next renewal: usually from the day after, sometimes after a gap.
            gap = rng.choices((0, rng.randint(1, 5), rng.randint(6, 21)), weights=(85, 12.5, 2.5))[0]
            segment_start = cert.end + timedelta(days=1 + gap)
            if gap == 0:
                ahead = rng.choices((0, 1, 2, 3, 4, 5, 7, -1, -2, -3), weights=(18, 16, 14, 12, 9, 7, 4, 8, 6, 6))[0]
                sign_day = self.weekday_or_near(segment_start - timedelta(days=ahead), prefer_earlier=ahead >= 0)
            else:
                sign_day = self.weekday_or_near(segment_start + timedelta(days=rng.choice((0, 0, 0, 1, 2))), prefer_earlier=False)
            if sign_day <= previous.signed.date():
                sign_day = previous.signed.date() + timedelta(days=1)
            if not self.in_window(sign_day):
                break

            # Mostly the same unit and doctor; occasionally a renewal from another unit.
            if rng.random() < 0.05:
                unit = self.other_unit(patient.unit)
                doctor = rng.choice(unit.doctors)
                if rng.random() < 0.5:
                    patient.unit, patient.doctor = unit, doctor
            else:
                unit = patient.unit
                doctor = patient.doctor if rng.random() < 0.75 else rng.choice(unit.doctors)
            index += 1
        return last_end

    def employer_copy(self, cert: _Cert) -> None:
        """An `ag7804` (certificate for the employer) written right after the FK 7804."""
        self.cert(
            cert.patient,
            _after(self.rng, cert.signed, 2, 15),
            cert.unit,
            cert.doctor,
            certificate_type="ag7804",
            diagnoses=list(cert.diagnoses),
            periods=list(cert.periods),
            occupations=cert.occupations,
        )

    def accident(self, cert: _Cert) -> tuple[_Cert, bool]:
        """Maybe replace or revoke the certificate just signed; return the one the chain goes on from."""
        rng = self.rng
        settings = self.settings
        roll = rng.random()
        if roll < settings.replacement_rate:
            later = rng.choice((0, 0, 0, 1, 2, 3))
            if later == 0:
                signed = _after(rng, cert.signed, 30, 180)
            else:
                day = self.weekday_or_near(cert.signed.date() + timedelta(days=later), prefer_earlier=False)
                signed = _office_time(rng, day) if day > cert.signed.date() else _after(rng, cert.signed, 30, 180)
            if self.in_window(signed.date()):
                return self.replacement(cert, signed), False
        elif roll < settings.replacement_rate + settings.revocation_rate:
            revoked_day = self.weekday_or_near(cert.signed.date() + timedelta(days=rng.randint(1, 7)), prefer_earlier=False)
            if self.in_window(revoked_day) and revoked_day > cert.signed.date():
                cert.revoked = _office_time(rng, revoked_day)
                if rng.random() < 0.5:
                    # Makulerat och utfärdat på nytt: the same content under a new id.
                    again = self.cert(
                        cert.patient,
                        _after(rng, cert.revoked, 5, 60),
                        cert.unit,
                        cert.doctor,
                        diagnoses=list(cert.diagnoses),
                        periods=list(cert.periods),
                        occupations=cert.occupations,
                        prognosis=cert.prognosis,
                        relations=list(cert.relations),
                        smittskydd=cert.smittskydd,
                    )
                    return again, False
                return cert, True
        return cert, False

    def replacement(self, cert: _Cert, signed: datetime) -> _Cert:
        """A certificate with relation `ERSATT`: same patient, slightly different periods."""
        rng = self.rng
        periods = list(cert.periods)
        change = rng.choice(("end", "start", "degree"))
        if change == "end":
            degree, first, last = periods[-1]
            shift = rng.choice((-7, -5, -3, -2, 2, 3, 5, 7))
            periods[-1] = (degree, first, max(first, last + timedelta(days=shift)))
        elif change == "start":
            degree, first, last = periods[0]
            periods[0] = (degree, first - timedelta(days=rng.randint(1, 3)), last)
        else:
            degree, first, last = periods[0]
            floor = periods[1][0] if len(periods) > 1 else 0
            choices = [d for d in (100, 75, 50, 25) if d != degree and d > floor]
            if choices:
                periods[0] = (rng.choice(choices), first, last)
            else:
                degree, first, last = periods[-1]
                periods[-1] = (degree, first, last + timedelta(days=rng.randint(2, 7)))
        return self.cert(
            cert.patient,
            signed,
            cert.unit,
            cert.doctor,
            diagnoses=list(cert.diagnoses),
            periods=periods,
            occupations=cert.occupations,
            prognosis=cert.prognosis,
            relations=[("ERSATT", cert)],
            smittskydd=cert.smittskydd,
        )

    def test_certificate(self) -> None:
        """A certificate written while trying the system out (`testCertificate: true`)."""
        rng = self.rng
        dx = _DX_BY_CODE[rng.choice(("J06.9", "M54.5", "F43.2"))]
        day = self.weekday_or_near(self.window_start + timedelta(days=rng.randrange(self.settings.days)), prefer_earlier=True)
        patient = self.new_patient(dx, day)
        if patient is None:
            return
        unit = rng.choice(self.units)
        patient.unit, patient.doctor = unit, rng.choice(unit.doctors)
        length = rng.choice((7, 14, 30))
        self.cert(
            patient,
            _office_time(rng, day),
            unit,
            patient.doctor,
            diagnoses=[dx.code],
            periods=[(100, day, day + timedelta(days=length - 1))],
            occupations=patient.occupations,
            test=True,
        )

    # -- the whole feed --------------------------------------------------------------------------

    def run(self) -> list[_Cert]:
        rng = self.rng
        days = max(1, self.settings.days)
        for _ in range(self.settings.patients):
            dx = self.draw_dx()
            first = self.weekday_or_near(self.window_start + timedelta(days=rng.randrange(days)), prefer_earlier=False)
            patient = self.new_patient(dx, first)
            if patient is None:
                continue
            end = self.case(patient, dx, first)
            # A few patients fall ill again later in the period: a separate case.
            if end is not None and rng.random() < 0.07:
                again = end + timedelta(days=rng.randint(30, 150))
                if self.in_window(again):
                    same_kind = rng.random() < 0.5
                    dx2 = dx if same_kind else self.draw_dx()
                    self.case(patient, dx2, self.weekday_or_near(again, prefer_earlier=False))
        for _ in range(max(2, self.settings.patients // 100) if self.settings.patients > 0 else 0):
            self.test_certificate()
        return self.certs


def _relation_json(relation: tuple[str, _Cert]) -> dict:
    kind, other = relation
    return {"type": kind, "relatedCertificateId": other.certificate_id}


def _signed_data(cert: _Cert, rng: random.Random) -> dict:
    data: dict = {
        "certificateId": cert.certificate_id,
        "certificateType": cert.certificate_type,
        "signedAt": cert.signed.isoformat(),
        "testCertificate": cert.test,
    }
    if cert.relations or rng.random() < 0.5:  # an empty list is sometimes left out (the default)
        data["relations"] = [_relation_json(r) for r in cert.relations]
    data["patient"] = {
        "personId": _written_person_id(rng, cert.patient.normalised),
        "protectedIdentity": cert.patient.protected,
    }
    data["issuer"] = {
        "doctorHsaId": cert.doctor,
        "careUnit": {"hsaId": cert.unit.hsa_id, "name": cert.unit.name},
        "careProvider": {"hsaId": cert.unit.provider.hsa_id, "name": cert.unit.provider.name},
    }
    data["avstangningSmittskydd"] = cert.smittskydd
    # ICD-10-SE codes are written both with and without the dot (F43.8A / F438A).
    dotted = rng.random() < 0.6
    data["diagnoses"] = [{"code": code if dotted else code.replace(".", "")} for code in cert.diagnoses]
    data["workCapacityPeriods"] = [
        {"reductionPercent": degree, "from": first.isoformat(), "to": last.isoformat()} for degree, first, last in cert.periods
    ]
    data["occupations"] = list(cert.occupations)
    if cert.prognosis is not None:
        code, days = cert.prognosis
        data["prognosis"] = {"code": code, "days": days} if days is not None else {"code": code}
    return data


def generate_feed(settings: FeedSettings = FeedSettings()) -> list[dict]:
    """The synthetic feed: CloudEvents 1.0 (structured JSON mode, as dicts), sorted by `time`."""
    generator = _Generator(settings)
    certs = generator.run()
    # Certificate ids follow signing order, as a certificate service would hand them out.
    for number, cert in enumerate(sorted(certs, key=lambda c: (c.signed.astimezone(UTC), c.seq)), start=1):
        cert.certificate_id = f"c-{number:06d}"

    rng = random.Random(f"reko-feed-render-{settings.seed}")
    staged: list[tuple[tuple, dict]] = []
    for cert in certs:
        data = _signed_data(cert, rng)
        staged.append(
            (
                (cert.signed.astimezone(UTC), 0, cert.seq),
                {"type": SIGNED_TYPE, "time": data["signedAt"], "subject": cert.certificate_id, "data": data},
            )
        )
        if cert.revoked is not None:
            revoked_at = cert.revoked.isoformat()
            staged.append(
                (
                    (cert.revoked.astimezone(UTC), 1, cert.seq),
                    {
                        "type": REVOKED_TYPE,
                        "time": revoked_at,
                        "subject": cert.certificate_id,
                        "data": {"certificateId": cert.certificate_id, "revokedAt": revoked_at},
                    },
                )
            )
    staged.sort(key=lambda item: item[0])

    events: list[dict] = []
    for _, body in staged:
        events.append(
            {
                "specversion": "1.0",
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "source": SOURCE,
                "type": body["type"],
                "time": body["time"],
                "subject": body["subject"],
                "datacontenttype": "application/json",
                "data": body["data"],
            }
        )
    return events


def write_jsonl(events: Iterable[dict], path: Path) -> int:
    """Write one JSON event per line (UTF-8); return the number written."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    defaults = FeedSettings()
    parser = argparse.ArgumentParser(prog="python -m reko.feed", description="Write a synthetic certificate feed (JSON Lines).")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--patients", type=int, default=defaults.patients)
    parser.add_argument("--start", type=date.fromisoformat, default=defaults.start, help="first signing date (YYYY-MM-DD)")
    parser.add_argument("--days", type=int, default=defaults.days, help="signing dates spread over this many days")
    parser.add_argument("--care-units", type=int, default=defaults.care_units)
    parser.add_argument("--revocation-rate", type=float, default=defaults.revocation_rate)
    parser.add_argument("--replacement-rate", type=float, default=defaults.replacement_rate)
    parser.add_argument("--out", default="-", help="output file, '-' for standard output")
    args = parser.parse_args(argv)

    settings = FeedSettings(
        seed=args.seed,
        patients=args.patients,
        start=args.start,
        days=args.days,
        care_units=args.care_units,
        revocation_rate=args.revocation_rate,
        replacement_rate=args.replacement_rate,
    )
    events = generate_feed(settings)
    if args.out == "-":
        for event in events:
            sys.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        count = len(events)
    else:
        count = write_jsonl(events, Path(args.out))
    print(f"wrote {count} events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
