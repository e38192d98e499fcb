"""`python -m services.milestones` (or `reko-milestones`): run the milestones service."""

from services.milestones.app import create_app
from services.milestones.settings import MilestonesSettings
from shared.service import serve


def main() -> None:
    settings = MilestonesSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
