"""The PDL access log: who read which patients' data, for which care unit, and why.

Every answer that shows patient data writes its row on the same connection before the answer is
sent, so a read that could not be logged is not answered. Patients appear only as pseudonyms.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import asyncpg

from shared.auth import AuthenticatedUser
from shared.logging import PERSONNUMMER_SHAPE, REDACTED

# The only purpose this system reads patient data for (Rehabstöd logs the same).
CARE_AND_TREATMENT = "Vård och behandling"


class AccessAction(StrEnum):
    READ = "READ"  # Läsa
    WRITE = "WRITE"  # Skriva: a change whose answer shows the record it changed


class AccessResource(StrEnum):
    SICK_LEAVE_CASES = "SICK_LEAVE_CASES"  # the list of a unit's ongoing cases
    PATIENT_HISTORY = "PATIENT_HISTORY"  # one patient's cases and certificates
    MILESTONES = "MILESTONES"  # one case's rehabkedja milestones
    ALERTS = "ALERTS"  # a unit's alerts: case ids with their milestones and risk reasons
    REKO_STATUS = "REKO_STATUS"  # a case's REKO status at a unit, with its history
    CONSENT = "CONSENT"  # a patient's consent decisions at a unit (Samtycke)
    CONTACTS = "CONTACTS"  # a patient's contact log at a unit, notes included
    REHABILITATION_PLAN = "REHABILITATION_PLAN"  # a patient's rehabilitation plan at a unit, every version
    WORKLIST = "WORKLIST"  # the coordinator's worklist page: her units' patients who need her
    PATIENT_PAGE = "PATIENT_PAGE"  # one patient's page: case, timeline, the coordinator's records
    TEAM_MEETING = "TEAM_MEETING"  # the bedömningsteam's list of a unit
    TEAM_MEETING_PRINT = "TEAM_MEETING_PRINT"  # the same list, printed


def loggable_path(path: str) -> str:
    """The request path without a query and with anything shaped like a personnummer masked."""
    return PERSONNUMMER_SHAPE.sub(REDACTED, path.split("?", 1)[0])


async def record_access(
    conn: asyncpg.Connection,
    user: AuthenticatedUser,
    *,
    care_unit_hsa_id: str,
    resource: AccessResource,
    patient_pseudonyms: Iterable[str],
    request_path: str,
    shown_care_units: Iterable[str] | None = None,
    shown_care_providers: Iterable[str] = (),
    action: AccessAction = AccessAction.READ,
    purpose: str = CARE_AND_TREATMENT,
    at: datetime | None = None,
) -> int:
    """Write one access-log row and answer its id.

    `care_unit_hsa_id` is the unit the user acted for; `shown_care_units` and
    `shown_care_providers` are the units and care providers whose data the answer holds (by
    default the acting unit alone), so a read across units or care providers says so.
    `at` defaults to the database's wall-clock time, not the service clock: an audit trail records
    when the read really happened, also when the service runs on a simulated clock.
    """
    units = sorted(set(shown_care_units)) if shown_care_units is not None else [care_unit_hsa_id]
    row_id: int = await conn.fetchval(
        "INSERT INTO access_log (at, user_hsa_id, user_name, roles, care_unit_hsa_id, action, resource, purpose, "
        "patient_pseudonyms, request_path, shown_care_units, shown_care_providers) "
        "VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        at,
        user.hsa_id,
        user.name,
        sorted(user.roles),
        care_unit_hsa_id,
        action.value,
        resource.value,
        purpose,
        sorted(set(patient_pseudonyms)),
        loggable_path(request_path),
        units,
        sorted(set(shown_care_providers)),
    )
    return row_id
