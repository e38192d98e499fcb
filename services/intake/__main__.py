"""`python -m services.intake` (or `reko-intake`): run the intake service."""

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.service import serve


def main() -> None:
    settings = IntakeSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
