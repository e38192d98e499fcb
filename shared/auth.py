"""Bearer-token authentication and role checks for every service's HTTP API.

A request carries `Authorization: Bearer <JWT>`, signed with the region's shared secret (HS256) or
by its identity provider (RS256/ES256, verified with the public key). The claims name the user
(`sub`, the HSA id), their roles and the care units they may act for; the last mirrors Rehabstöd's
HSA system roles `INTYG;Rehab-<unit HSA id>`.

An API whose keys are not configured refuses every request (503): it is never open by mistake.
The token itself is never logged, echoed or stored.
"""

# No `from __future__ import annotations`: FastAPI must resolve the dependencies that the
# factories below build from the annotations of their closures.
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictStr, ValidationError, field_validator

log = structlog.get_logger("auth")

Algorithm = Literal["HS256", "RS256", "ES256"]
# RFC 7518 §3.2: an HS256 key shorter than the hash output is guessable.
SHORTEST_SECRET = 32
NOT_CONFIGURED = "Autentisering är inte konfigurerad för tjänsten."


class Role(StrEnum):
    REHABKOORDINATOR = "REHABKOORDINATOR"
    LAKARE = "LAKARE"
    # Who runs a care unit: decides who coordinates it (docs/coordinators.md) and reads its
    # figures; no patient-level data beyond counts.
    VERKSAMHETSCHEF = "VERKSAMHETSCHEF"
    # The regional office: statistics across units, never single patients.
    REGIONKONTOR = "REGIONKONTOR"
    # The auditor: reads the access log (who looked at which patient), nothing else.
    GRANSKARE = "GRANSKARE"
    # A system (not a person) allowed to submit certificate events.
    CERTIFICATE_SOURCE = "CERTIFICATE_SOURCE"


class AuthSettings(BaseModel):
    """Nested in every service's settings as `auth` (`REKO_<SERVICE>_AUTH__JWT_SECRET`, ...)."""

    model_config = ConfigDict(frozen=True)

    jwt_secret: SecretStr = SecretStr("")
    jwt_public_key: str = ""  # PEM of an RSA (RS256) or EC P-256 (ES256) public key
    issuer: str = "urn:reko"
    audience: str = "urn:reko:api"
    algorithms: tuple[Algorithm, ...] = ("HS256", "RS256", "ES256")
    leeway_seconds: float = Field(default=30.0, ge=0, le=300)

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, secret: SecretStr) -> SecretStr:
        if secret.get_secret_value() and len(secret.get_secret_value().encode()) < SHORTEST_SECRET:
            raise ValueError(f"jwt_secret must be at least {SHORTEST_SECRET} bytes (e.g. 64 hex digits)")
        return secret


class AuthenticatedUser(BaseModel):
    """Who is asking, as the verified token says."""

    model_config = ConfigDict(frozen=True)

    hsa_id: str
    name: str | None = None
    roles: frozenset[str] = frozenset()
    care_units: frozenset[str] = frozenset()

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    def acts_for(self, care_unit_hsa_id: str) -> bool:
        return care_unit_hsa_id in self.care_units


# Claims that reach the access log are printable text: a NUL could not even be stored there.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class _Claims(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sub: StrictStr = Field(min_length=1, max_length=100, pattern=_PRINTABLE)
    name: Annotated[StrictStr, Field(max_length=200, pattern=_PRINTABLE)] | None = None
    roles: list[StrictStr] = []
    care_units: list[StrictStr] = []


class Unauthenticated(Exception):
    """The token is missing or cannot be trusted; `reason` is safe to show (it never holds the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    """Checks a token against one service's `AuthSettings`; the keys are parsed once, at construction."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._keys: dict[str, Any] = {}
        secret = settings.jwt_secret.get_secret_value()
        if secret and "HS256" in settings.algorithms:
            self._keys["HS256"] = secret.encode()
        if settings.jwt_public_key.strip():
            # A bad PEM stops the service at start rather than refusing every request later.
            public_key = load_pem_public_key(settings.jwt_public_key.strip().encode())
            # The key's own type decides its algorithm, so a public key is never taken as an HMAC
            # secret whatever the token's header claims (RFC 8725 §2.1).
            if isinstance(public_key, RSAPublicKey) and "RS256" in settings.algorithms:
                self._keys["RS256"] = public_key
            elif isinstance(public_key, EllipticCurvePublicKey) and "ES256" in settings.algorithms:
                self._keys["ES256"] = public_key

    @property
    def configured(self) -> bool:
        return bool(self._keys and self._settings.issuer and self._settings.audience)

    def verify(self, token: str | None) -> AuthenticatedUser:
        if not self.configured:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NOT_CONFIGURED)
        if not token:
            raise Unauthenticated("En bearer-token krävs.")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self._keys:
                raise Unauthenticated("Token är inte signerad med en godtagen algoritm.")
            claims = jwt.decode(
                token,
                self._keys[algorithm],
                algorithms=[algorithm],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
            parsed = _Claims.model_validate(claims)
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("Token har gått ut.") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("Tokens signatur kan inte verifieras.") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("Token är inte avsedd för den här tjänsten (audience).") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("Token kommer inte från den godtagna utfärdaren (issuer).") from None
        except jwt.MissingRequiredClaimError as missing:
            raise Unauthenticated(f"Token saknar anspråket {missing.claim!r}.") from None
        except (jwt.InvalidTokenError, ValidationError):
            raise Unauthenticated("Token är felaktigt formaterad.") from None
        return AuthenticatedUser(hsa_id=parsed.sub, name=parsed.name, roles=frozenset(parsed.roles), care_units=frozenset(parsed.care_units))


Authenticate = Callable[..., Awaitable[AuthenticatedUser]]


def authenticator(settings: AuthSettings) -> Authenticate:
    """A FastAPI dependency that answers the `AuthenticatedUser`, or 401 / 503."""
    verifier = TokenVerifier(settings)
    bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="A JWT from the region's identity provider")

    async def authenticate(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> AuthenticatedUser:
        try:
            return verifier.verify(credentials.credentials if credentials else None)
        except Unauthenticated as refused:
            log.info("request not authenticated", reason=refused.reason)
            error = 'Bearer error="invalid_token"' if credentials else "Bearer"
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, refused.reason, headers={"WWW-Authenticate": error}) from None

    return authenticate


def check_role(user: AuthenticatedUser, roles: Iterable[str]) -> None:
    wanted = sorted(roles)
    if not user.has_any_role(wanted):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Detta kräver en av rollerna {', '.join(wanted)}.")


def check_care_unit(user: AuthenticatedUser, care_unit_hsa_id: str) -> None:
    if not user.acts_for(care_unit_hsa_id):
        # The unit is not repeated: it came from the request, and an answer echoes nothing sent.
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Du arbetar inte för den här vårdenheten.")


def sees_only_own_patients(user: AuthenticatedUser) -> bool:
    """Rehabstöd's urval (docs/http-api.md): a coordinator sees every patient of the units they act
    for; a doctor who does not also coordinate sees only the patients they issued certificates for."""
    return not user.has_any_role([Role.REHABKOORDINATOR])


def may_read_patient(user: AuthenticatedUser, doctors_of_patient: Iterable[str]) -> bool:
    """Whether the user may read a patient whose certificates (as the answer would show them) these doctors issued."""
    return not sees_only_own_patients(user) or user.hsa_id in set(doctors_of_patient)


def require_role(authenticate: Authenticate, *roles: str) -> Authenticate:
    """A dependency: the authenticated user, who must hold one of `roles` (403 otherwise)."""

    async def user_with_role(user: Annotated[AuthenticatedUser, Depends(authenticate)]) -> AuthenticatedUser:
        check_role(user, roles)
        return user

    return user_with_role


def require_role_at_unit(authenticate: Authenticate, *roles: str) -> Authenticate:
    """A dependency for routes with a `{care_unit_hsa_id}` path parameter: role and unit both held."""

    async def user_at_unit(user: Annotated[AuthenticatedUser, Depends(authenticate)], care_unit_hsa_id: str) -> AuthenticatedUser:
        check_role(user, roles)
        check_care_unit(user, care_unit_hsa_id)
        return user

    return user_at_unit


def issue_token(
    settings_or_secret: AuthSettings | str,
    sub: str,
    roles: Iterable[str],
    care_units: Iterable[str] = (),
    ttl: timedelta = timedelta(hours=8),
    *,
    name: str | None = None,
    algorithm: Algorithm = "HS256",
    signing_key: Any = None,
    now: datetime | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """Mint a token for tooling and tests: HS256 with the shared secret unless a private key is given."""
    settings = settings_or_secret if isinstance(settings_or_secret, AuthSettings) else AuthSettings(jwt_secret=SecretStr(settings_or_secret))
    key = signing_key if signing_key is not None else settings.jwt_secret.get_secret_value()
    if not key:
        raise ValueError("no key to sign with: set a jwt_secret or pass signing_key")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": sub,
        "roles": sorted(set(roles)),
        "care_units": sorted(set(care_units)),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if name is not None:
        claims["name"] = name
    claims.update(extra_claims or {})
    return jwt.encode(claims, key, algorithm=algorithm)
