"""The domain modules stay pure: no broker, database, web or logging imports (checked on the source)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOMAIN_MODULES = [
    "shared/personnummer.py",
    "shared/sick_leave_chain.py",
    "services/intake/certificate.py",
    "services/intake/sick_leave_case.py",
    "services/intake/case_changes.py",
    "services/intake/icd10_chapter.py",
    "services/intake/certificate_standing.py",
    "services/intake/inspection.py",
    "services/intake/risk_flags.py",
    "services/milestones/rehabkedja.py",
    "services/milestones/milestone_changes.py",
    "services/notifications/alert.py",
    "services/stats/statistics.py",
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


def imported_modules(source: str, package: str) -> set[str]:
    """Every module the source imports directly (at any depth), relative imports resolved against `package`.

    `from shared import db` counts as `shared.db`, since the imported name may be a module.
    """
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(part for part in [*base_parts, node.module or ""] if part)
            else:
                base = node.module or ""
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return modules


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


@pytest.mark.parametrize("relative_path", DOMAIN_MODULES)
def test_a_domain_module_imports_no_infrastructure(relative_path):
    path = ROOT / relative_path
    assert path.is_file(), f"{relative_path} is missing"
    package = ".".join(path.relative_to(ROOT).parts[:-1])
    offending = sorted(module for module in imported_modules(path.read_text(encoding="utf-8"), package) if is_forbidden(module))
    assert offending == [], f"{relative_path} imports {offending}"


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
