"""The domain modules stay pure: no broker, database, web or logging imports (checked on the source).

A domain module is checked with every module of this repository it imports, at any depth, so a
rule cannot reach a broker through a harmless-looking shared module.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.module_imports import ROOT, imported_modules, imports_of, source_file

# The whole rules package, whatever modules it grows.
RULES_PACKAGE = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "shared" / "sickleave").rglob("*.py"))

DOMAIN_MODULES = [
    "shared/personnummer.py",
    "shared/identity_crypto.py",
    *RULES_PACKAGE,
    "services/intake/inspection.py",
    "services/intake/risk_flags.py",
    "services/intake/identity.py",
    "services/milestones/rehabkedja.py",
    "services/milestones/milestone_changes.py",
    "services/milestones/what_if.py",
    "services/notifications/alert.py",
    "services/notifications/identity.py",
    "services/notifications/reko_status.py",
    "services/notifications/coordinators.py",
    "services/notifications/consent.py",
    "services/notifications/contact_log.py",
    "services/notifications/deliveries.py",
    "services/notifications/rehabilitation_plan.py",
    "services/notifications/casework_events.py",
    "services/notifications/alert_lifecycle.py",
    "services/notifications/case_facts.py",
    "services/notifications/worklist.py",
    "services/notifications/team_meeting.py",
    "services/stats/statistics.py",
    "services/stats/suppression.py",
    "services/stats/reports.py",
    "services/stats/queries.py",
    "services/stats/listings.py",
]

FORBIDDEN = [
    "faststream",
    "aiokafka",
    "asyncpg",
    "structlog",
    "logging",
    "fastapi",
    "shared.service",
    "shared.consumer",
    "shared.outbox",
    "shared.db",
]


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def forbidden_imports(path: Path, read_imports: Callable[[Path], set[str]] = imports_of) -> list[str]:
    """Each forbidden module the file imports, directly or through modules of this repository, with the chain that leads to it."""
    offending: list[str] = []
    seen = {path}
    paths: list[tuple[Path, tuple[str, ...]]] = [(path, ())]
    while paths:
        current, via = paths.pop()
        for module in sorted(read_imports(current)):
            if is_forbidden(module):
                offending.append(" -> ".join([*via, module]))
                continue
            imported = source_file(module)
            if imported is not None and imported not in seen:
                seen.add(imported)
                paths.append((imported, (*via, module)))
    return sorted(offending)


def test_the_whole_rules_package_is_checked():
    assert "shared/sickleave/__init__.py" in RULES_PACKAGE
    assert {"shared/sickleave/certificate.py", "shared/sickleave/sick_leave_case.py", "shared/sickleave/chain.py"} <= set(RULES_PACKAGE)


@pytest.mark.parametrize("relative_path", DOMAIN_MODULES)
def test_a_domain_module_imports_no_infrastructure(relative_path):
    path = ROOT / relative_path
    assert path.is_file(), f"{relative_path} is missing"
    offending = forbidden_imports(path)
    assert offending == [], f"{relative_path} imports {offending}"


def test_a_rule_reaching_infrastructure_through_another_module_is_caught():
    # shared.settings is not forbidden itself, but it imports shared.auth, which imports fastapi and
    # structlog: a rule importing it would be impure.
    rule = ROOT / "shared" / "sickleave" / "chain.py"
    offending = forbidden_imports(rule, lambda path: {"shared.settings"} if path == rule else imports_of(path))
    assert "shared.settings -> shared.auth -> fastapi" in offending
    assert "shared.settings -> shared.auth -> structlog" in offending


def test_the_import_check_sees_the_kinds_of_import_it_must_refuse():
    # A guard on the guard: each of these lines alone must be caught (bar the harmless one).
    lines = [
        "import logging",
        "import structlog as log",
        "from aiokafka import AIOKafkaProducer",
        "from faststream.kafka import KafkaBroker",
        "from shared import db",
        "from shared.outbox import write",
        "import shared.consumer",
        "def later():\n    import asyncpg",
        "from ..db import connect",  # relative: shared.db, seen from shared.contracts
        "from .. import outbox",  # relative: shared.outbox
        "from .. import personnummer",  # harmless: shared.personnummer
    ]
    caught = [any(is_forbidden(module) for module in imported_modules(line, "shared.contracts")) for line in lines]
    assert caught == [True] * 10 + [False]


def test_shared_logging_is_not_mistaken_for_the_standard_logging_module():
    assert not is_forbidden("shared.logging")
    assert not is_forbidden("loggingx")
    assert is_forbidden("logging.handlers")
