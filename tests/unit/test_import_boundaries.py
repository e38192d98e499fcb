"""No service imports another service, and the shared code imports no service (docs/architecture.md §1).

A rule two services need lives in `shared/sickleave/`; a service reaching into another would tie
their releases together and let one service's setting silently differ from the other's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.module_imports import ROOT, imported_modules, imports_of, module_name

SERVICE_MODULES = sorted((ROOT / "services").rglob("*.py"))
SHARED_MODULES = sorted((ROOT / "shared").rglob("*.py"))


def service_of(module: str) -> str | None:
    """The service a module belongs to (`intake` for services.intake.api), or None outside services/."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "services" else None


def other_services_imported(module: str, imported: set[str]) -> list[str]:
    own = service_of(module)
    return sorted(name for name in imported if service_of(name) not in (None, own))


def services_imported(imported: set[str]) -> list[str]:
    return sorted(name for name in imported if name == "services" or name.startswith("services."))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_walk_finds_every_service_and_the_shared_rules():
    services = {service_of(module_name(path)) for path in SERVICE_MODULES} - {None}
    assert services == {"intake", "milestones", "notifications", "stats"}
    assert ROOT / "shared" / "sickleave" / "sick_leave_case.py" in SHARED_MODULES


@pytest.mark.parametrize("path", SERVICE_MODULES, ids=relative)
def test_a_service_module_imports_no_other_service(path: Path):
    offending = other_services_imported(module_name(path), imports_of(path))
    assert offending == [], f"{relative(path)} imports {offending}; move what both need to shared/sickleave/"


@pytest.mark.parametrize("path", SHARED_MODULES, ids=relative)
def test_a_shared_module_imports_no_service(path: Path):
    offending = services_imported(imports_of(path))
    assert offending == [], f"{relative(path)} imports {offending}"


def test_the_boundary_check_sees_the_kinds_of_import_it_must_refuse():
    # A guard on the guard, seen from services/milestones/what_if.py: each line alone must be caught (bar the harmless ones).
    lines = [
        "from services.intake.sick_leave_case import assemble_sick_leave_cases",
        "import services.stats.statistics",
        "from services.intake import handlers",
        "from services import notifications",
        "def later():\n    import services.intake.api",
        "from ..intake import api",  # relative: services.intake.api
        "from services.milestones.rehabkedja import RehabkedjaRules",  # harmless: its own service
        "from .rehabkedja import milestones_at",  # harmless: services.milestones.rehabkedja
        "from shared.sickleave.chain import chain_places",  # harmless: the shared rules
    ]
    caught = [bool(other_services_imported("services.milestones.what_if", imported_modules(line, "services.milestones"))) for line in lines]
    assert caught == [True] * 6 + [False] * 3


def test_shared_code_may_not_import_a_service_in_any_form():
    lines = [
        "import services",
        "from services import intake",
        "from services.intake.certificate import Certificate",
        "from shared.sickleave import chain",
    ]
    caught = [bool(services_imported(imported_modules(line, "shared.sickleave"))) for line in lines]
    assert caught == [True, True, True, False]
