"""Bearer tokens: who may call the HTTP APIs, and what a refused caller is told."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from pydantic import ValidationError
from structlog.testing import capture_logs

from services.intake.settings import IntakeSettings
from shared.auth import (
    AuthenticatedUser,
    AuthSettings,
    Role,
    authenticator,
    issue_token,
    require_role,
    require_role_at_unit,
)

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
UNIT_A = "SE2321000000-1001"
UNIT_B = "SE2321000000-1002"
COORDINATOR = "SE2321000000-3001"


def api(settings: AuthSettings) -> FastAPI:
    app = FastAPI()
    authenticate = authenticator(settings)

    @app.get("/me")
    async def me(user: Annotated[AuthenticatedUser, Depends(authenticate)]) -> dict[str, object]:
        return {"hsaId": user.hsa_id, "name": user.name, "roles": sorted(user.roles), "careUnits": sorted(user.care_units)}

    @app.get("/coordinators-only")
    async def coordinators_only(user: Annotated[AuthenticatedUser, Depends(require_role(authenticate, Role.REHABKOORDINATOR))]) -> str:
        return user.hsa_id

    @app.get("/units/{care_unit_hsa_id}/things")
    async def unit_things(
        care_unit_hsa_id: str, user: Annotated[AuthenticatedUser, Depends(require_role_at_unit(authenticate, Role.REHABKOORDINATOR))]
    ) -> str:
        return care_unit_hsa_id

    return app


async def call(settings: AuthSettings, path: str, token: str | None = None, *, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api(settings)), base_url="http://test") as client:
        return await client.get(path, headers=headers)


def coordinator_token(settings: AuthSettings = AuthSettings(jwt_secret=SECRET), **options: object) -> str:
    return issue_token(settings, COORDINATOR, [Role.REHABKOORDINATOR], [UNIT_A], timedelta(minutes=5), **options)  # type: ignore[arg-type]  # why: each test passes the option it varies


HS256 = AuthSettings(jwt_secret=SECRET)


# --- who gets in ---------------------------------------------------------------------------


async def test_a_valid_token_names_the_user_their_roles_and_units():
    token = issue_token(HS256, COORDINATOR, [Role.REHABKOORDINATOR, Role.LAKARE], [UNIT_A, UNIT_B], timedelta(minutes=5), name="Rut Rehab")

    response = await call(HS256, "/me", token)

    assert response.status_code == 200
    assert response.json() == {
        "hsaId": COORDINATOR,
        "name": "Rut Rehab",
        "roles": ["LAKARE", "REHABKOORDINATOR"],
        "careUnits": [UNIT_A, UNIT_B],
    }


async def test_a_token_expired_within_the_leeway_is_still_accepted():
    # issued 5 min 10 s ago for 5 minutes: expired 10 s ago, inside the default 30 s leeway
    token = coordinator_token(now=datetime.now(UTC) - timedelta(minutes=5, seconds=10))

    assert (await call(HS256, "/me", token)).status_code == 200


async def test_an_rs256_token_verifies_with_the_public_key():
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings = AuthSettings(jwt_public_key=public_pem(private_key))

    token = coordinator_token(settings, algorithm="RS256", signing_key=private_key)

    assert (await call(settings, "/me", token)).status_code == 200


async def test_an_es256_token_verifies_with_the_public_key():
    private_key = ec.generate_private_key(ec.SECP256R1())
    settings = AuthSettings(jwt_public_key=public_pem(private_key))

    token = coordinator_token(settings, algorithm="ES256", signing_key=private_key)

    assert (await call(settings, "/me", token)).status_code == 200


def public_pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# --- who does not (401) ----------------------------------------------------------------------


async def test_a_request_without_a_token_is_unauthenticated_and_told_to_use_bearer():
    response = await call(HS256, "/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_basic_credentials_are_not_a_bearer_token():
    response = await call(HS256, "/me", "dXNlcjpwYXNz", scheme="Basic")

    assert response.status_code == 401


async def test_an_expired_token_is_refused():
    token = coordinator_token(now=datetime.now(UTC) - timedelta(hours=1))

    response = await call(HS256, "/me", token)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "gått ut" in response.json()["detail"]


async def test_a_token_signed_with_another_secret_is_refused():
    token = coordinator_token(AuthSettings(jwt_secret="another-secret-just-as-long-as-the-real-one"))

    response = await call(HS256, "/me", token)

    assert response.status_code == 401
    assert "signatur" in response.json()["detail"]


async def test_a_token_for_another_audience_is_refused():
    token = coordinator_token(AuthSettings(jwt_secret=SECRET, audience="urn:some-other-api"))

    response = await call(HS256, "/me", token)

    assert response.status_code == 401
    assert "inte avsedd för den här tjänsten" in response.json()["detail"]


async def test_a_token_from_another_issuer_is_refused():
    token = coordinator_token(AuthSettings(jwt_secret=SECRET, issuer="urn:someone-else"))

    assert (await call(HS256, "/me", token)).status_code == 401


async def test_a_token_without_an_expiry_is_refused():
    token = jwt.encode({"iss": HS256.issuer, "aud": HS256.audience, "sub": COORDINATOR, "roles": []}, SECRET, algorithm="HS256")

    response = await call(HS256, "/me", token)

    assert response.status_code == 401
    assert "'exp'" in response.json()["detail"]


async def test_an_unsigned_token_is_refused():
    token = jwt.encode({"iss": HS256.issuer, "aud": HS256.audience, "sub": COORDINATOR, "exp": 4102444800}, None, algorithm="none")

    assert (await call(HS256, "/me", token)).status_code == 401


async def test_a_token_signed_with_an_algorithm_not_accepted_is_refused():
    # the secret is there, but the region accepts only RS256 tokens
    rs256_only = AuthSettings(
        jwt_secret=SECRET,
        algorithms=("RS256",),
        jwt_public_key=public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    )

    response = await call(rs256_only, "/me", coordinator_token())

    assert response.status_code == 401
    assert "algoritm" in response.json()["detail"]


async def test_keys_for_no_accepted_algorithm_count_as_not_configured():
    es_key_but_rs256_only = AuthSettings(algorithms=("RS256",), jwt_public_key=public_pem(ec.generate_private_key(ec.SECP256R1())))

    assert (await call(es_key_but_rs256_only, "/me", coordinator_token())).status_code == 503


async def test_an_hs256_token_is_refused_where_only_a_public_key_is_configured():
    # never let a public key double as an HMAC secret
    settings = AuthSettings(jwt_public_key=public_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))

    response = await call(settings, "/me", coordinator_token())

    assert response.status_code == 401
    assert "algoritm" in response.json()["detail"]


async def test_garbage_is_a_malformed_token():
    response = await call(HS256, "/me", "not.a.jwt")

    assert response.status_code == 401
    assert response.json()["detail"] == "Token är felaktigt formaterad."


async def test_roles_that_are_not_a_list_make_the_token_malformed():
    token = coordinator_token(extra_claims={"roles": "REHABKOORDINATOR"})

    assert (await call(HS256, "/me", token)).status_code == 401


async def test_the_token_never_reaches_a_log_line_or_the_answer():
    token = coordinator_token(now=datetime.now(UTC) - timedelta(hours=1))

    with capture_logs() as logs:
        response = await call(HS256, "/me", token)

    assert response.status_code == 401
    assert logs, "a refusal is logged"
    assert all(token not in str(entry) for entry in logs)
    assert token not in response.text


# --- what they may do (403) ------------------------------------------------------------------


async def test_a_user_without_the_role_is_forbidden():
    token = issue_token(HS256, "SE2321000000-4001", [Role.REGIONKONTOR], [UNIT_A], timedelta(minutes=5))

    response = await call(HS256, "/coordinators-only", token)

    assert response.status_code == 403
    assert response.json()["detail"].startswith("Detta kräver en av rollerna ")
    assert "REHABKOORDINATOR" in response.json()["detail"]


async def test_a_coordinator_may_act_for_a_unit_they_hold():
    response = await call(HS256, f"/units/{UNIT_A}/things", coordinator_token())

    assert response.status_code == 200


async def test_a_coordinator_of_another_unit_is_forbidden():
    response = await call(HS256, f"/units/{UNIT_B}/things", coordinator_token())

    assert response.status_code == 403
    assert response.json()["detail"] == "Du arbetar inte för den här vårdenheten."


# --- not configured (503) --------------------------------------------------------------------


async def test_an_api_without_a_key_refuses_everyone():
    unconfigured = AuthSettings()

    without_token = await call(unconfigured, "/me")
    with_token = await call(unconfigured, "/me", coordinator_token())

    assert (without_token.status_code, without_token.json()["detail"]) == (503, "Autentisering är inte konfigurerad för tjänsten.")
    assert with_token.status_code == 503


async def test_an_empty_audience_counts_as_not_configured():
    assert (await call(AuthSettings(jwt_secret=SECRET, audience=""), "/me", coordinator_token())).status_code == 503


# --- settings and minting --------------------------------------------------------------------


def test_a_short_secret_is_refused_when_the_settings_load():
    with pytest.raises(ValidationError):
        AuthSettings(jwt_secret="too-short")


def test_each_service_reads_its_auth_settings_from_nested_env_vars(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REKO_INTAKE_AUTH__JWT_SECRET", SECRET)
    monkeypatch.setenv("REKO_INTAKE_AUTH__AUDIENCE", "urn:region:rehab")

    settings = IntakeSettings(pseudonym_key="k")  # type: ignore[arg-type]  # why: pydantic makes the str a SecretStr

    assert settings.auth.jwt_secret.get_secret_value() == SECRET
    assert settings.auth.audience == "urn:region:rehab"


def test_a_token_minted_from_a_bare_secret_carries_the_default_issuer_and_audience():
    token = issue_token(SECRET, COORDINATOR, [Role.LAKARE], [UNIT_A], timedelta(hours=1))

    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AuthSettings().audience, issuer=AuthSettings().issuer)

    assert (claims["sub"], claims["roles"], claims["care_units"]) == (COORDINATOR, ["LAKARE"], [UNIT_A])
    assert claims["exp"] - claims["iat"] == 3600


def test_minting_without_a_key_is_an_error():
    with pytest.raises(ValueError, match="no key to sign with"):
        issue_token(AuthSettings(), COORDINATOR, [], [], timedelta(hours=1))


@pytest.mark.parametrize(
    "claims", [{"sub": "SE2321000000-3001\x00"}, {"name": "Rut\x00Rehab"}, {"sub": "a\nb"}], ids=["NUL sub", "NUL name", "newline"]
)
async def test_a_token_whose_user_claims_hold_control_characters_is_malformed(claims):
    response = await call(HS256, f"/units/{UNIT_A}/things", coordinator_token(extra_claims=claims))

    assert (response.status_code, response.json()["detail"]) == (401, "Token är felaktigt formaterad.")
