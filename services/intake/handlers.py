"""Intake's subscriber: certificates in, sick-leave case changes out."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord

from services.intake import repository
from services.intake.identity import SeenIdentity, identity_changes
from services.intake.pseudonym import pseudonymise
from services.intake.risk_flags import flag_changes, load_fmb_table, risk_flags
from services.intake.settings import IntakeSettings
from shared.consumer import ApplyContext, BadEvent, Incoming
from shared.contracts.cases import CASE_CHANGED_TYPE, CaseStatus, SickLeaveCaseChanged
from shared.contracts.certificates import (
    BadCertificateEvent,
    CertificateRevoked,
    CertificateSigned,
    parse_certificate_event,
)
from shared.contracts.identities import PATIENT_IDENTITY_CHANGED_TYPE, PatientIdentityChanged
from shared.contracts.risk_flags import RISK_FLAG_CHANGED_TYPE, RiskFlagChanged
from shared.identity_crypto import IdentityCipher
from shared.service import Publication, ServiceRuntime, Subscription
from shared.sickleave.case_changes import case_changes, case_snapshot
from shared.sickleave.certificate import Certificate, certificate_from_contract, is_same_certificate
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

    def __init__(self, settings: IntakeSettings, cases_topic: str, risk_flags_topic: str, identities_topic: str | None = None) -> None:
        self._settings = settings
        self._key = settings.pseudonym_key.get_secret_value().encode()
        self._cases_topic = cases_topic
        self._risk_flags_topic = risk_flags_topic
        self._identities_topic = identities_topic
        # No identity keys, no identity topic: nothing resolves a pseudonym then (docs/identity.md).
        self._identity_cipher = IdentityCipher.from_setting(settings.identity_keys.get_secret_value())
        self._fmb = load_fmb_table()

    async def apply(self, context: ApplyContext, incoming: list[Incoming[CertificateEvent]]) -> None:
        conn = context.conn
        known = await repository.certificates_by_id(conn, {item.event.data.certificate_id for item in incoming})
        new_patients: dict[str, tuple[Any, str]] = {}
        new_certificates = []
        revocations = []
        seen_identities = []
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
                seen_identities.append(SeenIdentity(pseudonym, identity.normalised, certificate.protected_identity))
            elif is_same_certificate(stored, certificate):
                seen_identities.append(SeenIdentity(pseudonym, identity.normalised, certificate.protected_identity))
            else:
                context.dead_letter(
                    item,
                    "ConflictingResign",
                    f"conflicting re-sign: certificate {certificate.certificate_id} was signed before with other content; the first one stands",
                )
        await repository.add_patients(conn, [(pseudonym, born, sex) for pseudonym, (born, sex) in new_patients.items()])
        await repository.add_certificates(conn, new_certificates)
        await repository.add_revocations(conn, revocations)
        await self._publish_identities(context, seen_identities)

        affected = {certificate.patient_id for certificate in new_certificates}
        affected |= {known[certificate_id].patient_id for certificate_id, _ in revocations if certificate_id in known}
        if affected:
            await self._reassemble(context, affected, {certificate.certificate_id: certificate for certificate in new_certificates})

    async def _publish_identities(self, context: ApplyContext, seen: list[SeenIdentity]) -> None:
        """The identity events of the batch's patients that are new or changed, in this transaction."""
        if self._identity_cipher is None or self._identities_topic is None or not seen:
            return
        published = await repository.published_identities(context.conn, {identity.patient_pseudonym for identity in seen})
        changes = identity_changes(seen, published, self._identity_cipher)
        for change in changes:
            self._publish(context, self._identities_topic, PATIENT_IDENTITY_CHANGED_TYPE, change)
        await repository.save_published_identities(context.conn, changes)

    async def _reassemble(self, context: ApplyContext, patients: set[str], written: dict[str, Certificate]) -> None:
        saved = []
        changed_cases: dict[str, tuple[list[SickLeaveCase], list[SickLeaveCaseChanged]]] = {}
        for history in await repository.patient_histories(context.conn, patients, written):
            cases = assemble_sick_leave_cases(history.certificates, history.revoked_ids, max_gap=self._settings.max_gap)
            snapshots = [
                case_snapshot(
                    case, patient_pseudonym=history.patient_pseudonym, birth_date=history.birth_date, sex=history.sex, max_gap=self._settings.max_gap
                )
                for case in cases
            ]
            changes = case_changes(history.published_cases, snapshots)
            if not changes:
                continue
            revision = history.revision + 1
            for change in changes:
                numbered = change.model_copy(update={"patient_revision": revision, "revision_event_count": len(changes)})
                self._publish(context, self._cases_topic, CASE_CHANGED_TYPE, numbered)
            # The snapshots of the cases that changed: a removed case is not among them, and an unchanged one is stored already.
            changed_ids = {change.case_id for change in changes if change.status is CaseStatus.ACTIVE}
            saved.append(
                repository.SavedCases(
                    history.patient_pseudonym,
                    [snapshot.case_id for snapshot in snapshots],
                    [snapshot for snapshot in snapshots if snapshot.case_id in changed_ids],
                    revision,
                )
            )
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
    def _publish(context: ApplyContext, topic: str, event_type: str, event: SickLeaveCaseChanged | RiskFlagChanged | PatientIdentityChanged) -> None:
        # Keyed by patient, so one patient's case and flag events stay in order on their partition.
        subject = event.patient_pseudonym if isinstance(event, PatientIdentityChanged) else event.case_id
        context.outbox.event(topic=topic, key=event.patient_pseudonym, event_type=event_type, time=context.clock.now(), subject=subject, data=event)


def register(runtime: ServiceRuntime, settings: IntakeSettings) -> None:
    topics = settings.topics
    identities = settings.identity_keys.get_secret_value() != ""
    intake = CertificateIntake(
        settings, runtime.topic(topics.cases), runtime.topic(topics.risk_flags), runtime.topic(topics.identities) if identities else None
    )
    identity_publication = Publication(
        topics.identities,
        title="PatientIdentityChanged",
        description=(
            "Who a patient is, for notifications alone: the personnummer as a Fernet token, or none for a protected "
            "identity; keyed by patient pseudonym on a compacted topic, published when new or changed (docs/identity.md)."
        ),
        schema=PatientIdentityChanged,
    )
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
                        "Every change of a sick-leave case (opened, extended, shortened, split, merged, removed), keyed by patient pseudonym."
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
                *((identity_publication,) if identities else ()),
            ),
        )
    )
