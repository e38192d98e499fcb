"""What-if for coordinators: the milestones and due dates the rules give, without publishing anything."""

# No `from __future__ import annotations`: FastAPI resolves the `Depends(reader)` annotations of the
# closures below at runtime, and `reader` exists only in the factory's scope.

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, params

from services.milestones import repository, what_if
from services.milestones.settings import MilestonesSettings
from shared.access_log import AccessResource, record_access
from shared.auth import AuthenticatedUser, Role, authenticator, may_read_patient, require_role
from shared.http_errors import OUT_OF_RANGE, PathIdentifier, ReckonableDate, check_reckonable
from shared.service import ServiceRuntime

# Who plans a patient's rehabilitation: the unit's coordinators and the doctors.
READERS = (Role.REHABKOORDINATOR, Role.LAKARE)
NO_SUCH_CASE = "Sjukfallet finns inte vid de vårdenheter du arbetar för."


def what_if_router(runtime: ServiceRuntime, settings: MilestonesSettings, dependencies: Sequence[params.Depends] = ()) -> APIRouter:
    api = APIRouter(tags=["what-if"], dependencies=list(dependencies))
    reader = require_role(authenticator(settings.auth), *READERS)

    @api.post("/what-if", response_model=what_if.WhatIfAnswer, response_model_by_alias=True)
    async def certificates_what_if(question: what_if.WhatIfQuestion, user: Annotated[AuthenticatedUser, Depends(reader)]) -> what_if.WhatIfAnswer:
        """The cases one patient's certificates make and their milestones on `on` (default: today by
        the service clock), assembled with intake's gap as the last case event named it (milestones'
        `max_gap` setting before any did). 422 with the reasons when a certificate breaks the contract
        or the certificates belong to more than one patient. Nothing is published or stored."""
        check_reckonable(question.on, "body.on")
        async with runtime.pool.acquire() as conn:
            max_gap = what_if.what_if_gap(await repository.last_case_gap(conn), settings.max_gap)
        try:
            return what_if.answer_for_certificates(question, question.on or runtime.clock.today(), settings.rules, max_gap=max_gap)
        except what_if.WhatIfRefused as refused:
            raise HTTPException(status_code=422, detail=refused.reasons) from None
        except ArithmeticError:
            # The contract keeps certificates' dates in range; this is the last guard of the calendar.
            raise HTTPException(status_code=422, detail=[OUT_OF_RANGE]) from None

    @api.get("/cases/{case_id}/milestones", response_model=what_if.KnownCaseAnswer, response_model_by_alias=True)
    async def case_milestones(
        request: Request,
        case_id: PathIdentifier,
        user: Annotated[AuthenticatedUser, Depends(reader)],
        on: ReckonableDate | None = None,
    ) -> what_if.KnownCaseAnswer:
        """A case's milestones as the rules give them on `on` (default: today) for the certificates
        seen so far, with what was last published for it. 404 when no such case exists now at a
        care unit the user acts for, or when a doctor asks about a patient who is not theirs (the
        same answer either way, so nothing leaks)."""
        async with runtime.pool.acquire() as conn:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                patient = await repository.patient_of_case(conn, case_id)
                cases = (await repository.cases_by_patient(conn, [patient]))[patient] if patient else []
                published = (await repository.published_milestones_by_patient(conn, [patient]))[patient] if patient else {}
                fallback_gap = what_if.what_if_gap(await repository.last_case_gap(conn), settings.max_gap)
            asked = next((case for case in cases if case.case_id == case_id), None)
            if (
                patient is None
                or asked is None
                or not user.acts_for(asked.care_unit_hsa_id)
                # A doctor's patient: one of whose cases the doctor wrote the latest certificate for,
                # as the case list's ISSUED_BY_ME (docs/http-api.md).
                or not may_read_patient(user, (case.doctor_hsa_id for case in cases))
            ):
                raise HTTPException(status_code=404, detail=NO_SUCH_CASE)
            try:
                answer = what_if.answer_for_known_case(
                    case_id, cases, published, on or runtime.clock.today(), settings.rules, fallback_gap=fallback_gap
                )
            except ArithmeticError:
                raise HTTPException(status_code=422, detail=[OUT_OF_RANGE]) from None
            # Logged once the answer exists and before it is sent: what is logged is what is shown.
            await record_access(
                conn,
                user,
                care_unit_hsa_id=asked.care_unit_hsa_id,
                resource=AccessResource.MILESTONES,
                patient_pseudonyms=[patient],
                request_path=request.url.path,
                shown_care_units=[asked.care_unit_hsa_id],
                shown_care_providers=[asked.care_provider_hsa_id],
            )
        return answer

    return api
