"""Intake's subscriber: certificates in, sick-leave case changes out."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from services.intake import repository
from services.intake.pseudonym import pseudonymise
from services.intake.risk_flags import flag_changes, load_fmb_table, risk_flags
from services.intake.settings import IntakeSettings
from shared.consumer import ApplyContext, BadEvent, Incoming
from shared.contracts.cases import CASE_CHANGED_TYPE, SickLeaveCaseChanged
from shared.contracts.certificates import (
    BadCertificateEvent,
    CertificateRevoked,
    CertificateSigned,
    parse_certificate_event,
)
from shared.contracts.risk_flags import RISK_FLAG_CHANGED_TYPE, RiskFlagChanged
from shared.service import Publication, ServiceRuntime, Subscription
from shared.sickleave.case_changes import case_changes, case_snapshot
from shared.sickleave.certificate import certificate_from_contract, is_same_certificate
from shared.sickleave.sick_leave_case import SickLeaveCase, assemble_sick_leave_cases

CertificateEvent = CertificateSigned | CertificateRevoked


def decode_certificate_record(record: ConsumerRecord[Any, Any]) -> tuple[str, CertificateEvent]:
    try:
        event = parse_certificate_event(record.value)
    except BadCertificateEvent as bad:
        raise BadEvent(bad.error_class, bad.reason) from None
    # CloudEvents: `source` + `id` identify an event. The length prefix keeps the pair unambiguous:
    # joined with a separator, ("urn:a b", "c") and ("urn:a", "b c") would be one id.
    return f"{len(event.source)}:{event.source}:{event.id}", event


class CertificateIntake:
    """Stores certificates, re-assembles the cases of every patient they touch, publishes changes."""

    def __init__(self, settings: IntakeSettings, cases_topic: str, risk_flags_topic: str) -> None:
        self._settings = settings
        self._key = settings.pseudonym_key.get_secret_value().encode()
        self._cases_topic = cases_topic
        self._risk_flags_topic = risk_flags_topic
        self._fmb = load_fmb_table()

    async def apply(self, context: ApplyContext, incoming: list[Incoming[CertificateEvent]]) -> None:
        conn = context.conn
        known = await repository.certificates_by_id(conn, {item.event.data.certificate_id for item in incoming})
        new_patients: dict[str, tuple[Any, str]] = {}
        new_certificates = []
        revocations = []
        for item in incoming:
            event = item.event
            if isinstance(event, CertificateRevoked):
                revocations.append((event.data.certificate_id, event.data.revoked_at))
                continue
            identity = event.data.patient_identity
            pseudonym = pseudonymise(identity.normalised, self._key)
            certificate = certificate_from_contract(event.data, patient_pseudonym=pseudonym)
            stored = known.get(certificate.certificate_id)
            if stored is None:
                known[certificate.certificate_id] = certificate
                new_certificates.append(certificate)
                new_patients.setdefault(pseudonym, (identity.birth_date, identity.sex.value))
            elif not is_same_certificate(stored, certificate):
                context.dead_letter(
                    item,
                    "ConflictingResign",
                    f"conflicting re-sign: certificate {certificate.certificate_id} was signed before with other content; the first one stands",
                )
        await repository.add_patients(conn, [(pseudonym, born, sex) for pseudonym, (born, sex) in new_patients.items()])
        await repository.add_certificates(conn, new_certificates)
        await repository.add_revocations(conn, revocations)

        affected = {certificate.patient_id for certificate in new_certificates}
        affected |= {known[certificate_id].patient_id for certificate_id, _ in revocations if certificate_id in known}
        if affected:
            await self._reassemble(context, affected)

    async def _reassemble(self, context: ApplyContext, patients: set[str]) -> None:
        saved = []
        changed_cases: dict[str, tuple[list[SickLeaveCase], list[SickLeaveCaseChanged]]] = {}
        for history in await repository.patient_histories(context.conn, patients):
            cases = assemble_sick_leave_cases(history.certificates, history.revoked_ids, max_gap=self._settings.max_gap)
            snapshots = [
                case_snapshot(case, patient_pseudonym=history.patient_pseudonym, birth_date=history.birth_date, sex=history.sex, max_gap=self._settings.max_gap)
                for case in cases
            ]
            changes = case_changes(history.published_cases, snapshots)
            if not changes:
                continue
            revision = history.revision + 1
            for change in changes:
                numbered = change.model_copy(update={"patient_revision": revision, "revision_event_count": len(changes)})
                self._publish(context, self._cases_topic, CASE_CHANGED_TYPE, numbered)
            saved.append((history.patient_pseudonym, snapshots, revision))
            changed_cases[history.patient_pseudonym] = (list(cases), snapshots)
        await repository.save_cases(context.conn, saved)
        await self._reflag(context, changed_cases)

    async def _reflag(self, context: ApplyContext, changed_cases: dict[str, tuple[list[SickLeaveCase], list[SickLeaveCaseChanged]]]) -> None:
        """Re-evaluate the risk flags of patients whose cases changed; publish the flags whose level or reasons changed."""
        if not changed_cases:
            return
        published = await repository.published_risk_flags(context.conn, changed_cases)
        flags: list[RiskFlagChanged] = []
        for patient, (cases, snapshots) in changed_cases.items():
            current = risk_flags(cases, self._settings.risk_flags, self._fmb)
            flags.extend(flag_changes(published[patient], current, {snapshot.case_id: snapshot for snapshot in snapshots}))
        for flag in flags:
            self._publish(context, self._risk_flags_topic, RISK_FLAG_CHANGED_TYPE, flag)
        await repository.save_risk_flags(context.conn, flags)

    @staticmethod
    def _publish(context: ApplyContext, topic: str, event_type: str, event: SickLeaveCaseChanged | RiskFlagChanged) -> None:
        # Keyed by patient, so one patient's case and flag events stay in order on their partition.
        context.outbox.event(
            topic=topic, key=event.patient_pseudonym, event_type=event_type, time=context.clock.now(), subject=event.case_id, data=event
        )


def register(runtime: ServiceRuntime, settings: IntakeSettings) -> None:
    topics = settings.topics
    intake = CertificateIntake(settings, runtime.topic(topics.cases), runtime.topic(topics.risk_flags))
    runtime.consume(
        Subscription(
            topic=topics.certificates,
            title="OnCertificates",
            description=(
                "Consumes FK 7804 `signed`/`revoked` CloudEvents from `sickleave.certificates.v1`. Emits "
                "`SickLeaveCaseChanged` on `sickleave.cases.v1` and, when a case's risk level or reasons change, "
                "`RiskFlagChanged` on `sickleave.riskflags.v1` (both through the outbox); dead-letters bad input with "
                "its reason on `sickleave.certificates.v1.dlq`. Acknowledges manually: the offsets of a batch are "
                "committed only after its transaction (certificates, inbox, outbox) committed."
            ),
            decode=decode_certificate_record,
            apply=intake.apply,
            publishes=(
                Publication(
                    topics.cases,
                    title="SickLeaveCaseChanged",
                    description=(
                        "Every change of a sick-leave case (opened, extended, shortened, split, merged, removed), "
                        "keyed by patient pseudonym."
                    ),
                    schema=SickLeaveCaseChanged,
                ),
                Publication(
                    topics.risk_flags,
                    title="RiskFlagChanged",
                    description=(
                        "Risk of long sick leave per case (docs/rules.md §5): level, score and every matching reason with "
                        "its evidence. Published when a case's level or reason codes change; level NONE withdraws an earlier flag."
                    ),
                    schema=RiskFlagChanged,
                ),
            ),
        )
    )
