"""`python -m services.stats` (or `reko-stats`): run the stats service."""

from services.stats.app import create_app
from services.stats.settings import StatsSettings
from shared.service import serve


def main() -> None:
    settings = StatsSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
