"""`python -m services.notifications` (or `reko-notifications`): run the notifications service."""

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from shared.service import serve


def main() -> None:
    settings = NotificationsSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
