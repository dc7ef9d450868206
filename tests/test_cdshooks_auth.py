"""The EHR's bearer JWT: tokens signed here with fresh RSA and EC keys, plus the specification's example."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rootcause.cdshooks import (
    AuthError,
    CachingJwksFetcher,
    InMemoryReplayStore,
    JwtVerifier,
    TrustedIssuer,
)

NOW = 1_800_000_000.0
ISS = "https://ehr.example.org/"
JWKS_URL = "https://ehr.example.org/jwks.json"
AUD = "https://cds.rootcause.dev/cds-services/patient-view"
SPEC = Path(__file__).parent / "data" / "cdshooks" / "spec" / "jwt-example.json"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
    key: dict[str, Any] = json.loads(algorithm.to_jwk(public))
    return {**key, "kid": kid, "alg": alg, "use": "sig"}


class StaticJwks:
    """A JWKS fetcher fake: fixed sets per URL; records calls; can add a key on refresh (rotation)."""

    def __init__(
        self, sets: dict[str, list[dict[str, Any]]], on_refresh: dict[str, Any] | None = None
    ) -> None:
        self.sets = sets
        self.on_refresh = on_refresh
        self.calls: list[tuple[str, bool]] = []

    def get_jwks(self, url: str, *, refresh: bool = False) -> Mapping[str, Any]:
        self.calls.append((url, refresh))
        if refresh and self.on_refresh:
            self.sets[url] = [*self.sets[url], self.on_refresh]
        return {"keys": self.sets.get(url, [])}


def claims(**override: Any) -> dict[str, Any]:
    base = {"iss": ISS, "aud": AUD, "iat": int(NOW) - 10, "exp": int(NOW) + 300, "jti": str(uuid.uuid4())}
    base.update(override)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any], *, key: Any = RSA_KEY, alg: str = "RS384", kid: str = "rsa-1", **headers: Any
) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, **headers})


def unsigned(payload: dict[str, Any], kid: str = "rsa-1") -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(payload)}."


@pytest.fixture()
def jwks() -> StaticJwks:
    return StaticJwks(
        {JWKS_URL: [jwk(RSA_KEY.public_key(), "rsa-1", "RS384"), jwk(EC_KEY.public_key(), "ec-1", "ES384")]}
    )


@pytest.fixture()
def verifier(jwks: StaticJwks) -> JwtVerifier:
    return JwtVerifier(
        [TrustedIssuer(ISS, JWKS_URL, tenants=None)],
        jwks,
        InMemoryReplayStore(clock=lambda: NOW),
        clock=lambda: NOW,
    )


def reason(verifier: JwtVerifier, token: str | None, audience: str = AUD) -> str:
    with pytest.raises(AuthError) as info:
        verifier.verify(None if token is None else f"Bearer {token}", audience=audience)
    assert token is None or token not in str(info.value)  # the token never appears in the message
    return info.value.reason


def test_valid_rsa_and_ec_tokens_pass(verifier: JwtVerifier) -> None:
    c = claims(tenant="t1", sub="client-1")
    got = verifier.verify(f"Bearer {sign(c)}", audience=AUD)
    assert (got.issuer, got.jti, got.kid, got.tenant, got.subject) == (
        ISS,
        c["jti"],
        "rsa-1",
        "t1",
        "client-1",
    )
    assert got.expires_at == dt.datetime.fromtimestamp(c["exp"], dt.UTC)
    ec_token = sign(claims(), key=EC_KEY, alg="ES384", kid="ec-1")
    assert verifier.verify(f"bearer {ec_token}", audience=AUD).kid == "ec-1"
    listed = sign(claims(aud=["https://other.example", AUD]))
    assert verifier.verify(f"Bearer {listed}", audience=AUD).issuer == ISS


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (lambda: sign(claims(aud="https://cds.rootcause.dev/cds-services")), "wrong_audience"),
        (lambda: sign(claims(aud=AUD + "/")), "wrong_audience"),
        (lambda: sign(claims(exp=int(NOW) - 120, iat=int(NOW) - 400)), "expired"),
        (lambda: unsigned(claims()), "alg_not_allowed"),
        (
            lambda: jwt.encode(
                claims(), "a-shared-secret-of-32-bytes-long!!", algorithm="HS256", headers={"kid": "rsa-1"}
            ),
            "alg_not_allowed",
        ),
        (lambda: sign(claims(), alg="RS256"), "alg_not_allowed"),
        (lambda: sign(claims(iss="https://evil.example/")), "unknown_issuer"),
        (lambda: sign(claims(jti=None)), "missing_jti"),
        (lambda: sign(claims(exp=None)), "missing_exp"),
        (lambda: sign(claims(iat=None)), "missing_iat"),
        (lambda: sign(claims(), kid="nope"), "unknown_key"),
        (lambda: sign(claims(), key=OTHER_RSA), "bad_signature"),
        (lambda: sign(claims(), alg="ES384", key=EC_KEY, kid="rsa-1"), "key_mismatch"),
        (lambda: sign(claims(), jku="https://evil.example/jwks"), "jku_not_allowed"),
        (lambda: sign(claims(exp=int(NOW) + 7200)), "lifetime_too_long"),
        (lambda: sign(claims(iat=int(NOW) + 600)), "issued_in_future"),
        (lambda: sign(claims(nbf=int(NOW) + 600)), "not_yet_valid"),
        (lambda: sign(claims(), typ="at+jwt"), "wrong_typ"),
        (lambda: "not.a.jwt", "malformed"),
        (lambda: "a.b", "malformed"),
        (lambda: "eyJhbGciOiJSUzM4NCJ9.WzFd.c2ln", "malformed"),  # claims are a list, not an object
        (lambda: sign(claims())[:-4] + "!!!!", "invalid_token"),  # only the library's strict parse sees it
    ],
)
def test_bad_tokens_fail_with_a_reason(verifier: JwtVerifier, token: Any, expected: str) -> None:
    assert reason(verifier, token()) == expected


def test_missing_kid_and_header_shapes(verifier: JwtVerifier) -> None:
    no_kid = jwt.encode(claims(), RSA_KEY, algorithm="RS384")
    assert reason(verifier, no_kid) == "missing_kid"
    assert reason(verifier, None) == "missing_token"
    with pytest.raises(AuthError, match="not_bearer"):
        verifier.verify(f"Basic {sign(claims())}", audience=AUD)


def test_key_of_the_wrong_type_fails(jwks: StaticJwks, verifier: JwtVerifier) -> None:
    no_alg = {k: v for k, v in jwk(RSA_KEY.public_key(), "rsa-2", "RS384").items() if k != "alg"}
    jwks.sets[JWKS_URL].append(no_alg)
    assert reason(verifier, sign(claims(), key=EC_KEY, alg="ES384", kid="rsa-2")) == "key_mismatch"


def test_replayed_jti_fails(verifier: JwtVerifier) -> None:
    token = sign(claims())
    verifier.verify(f"Bearer {token}", audience=AUD)
    assert reason(verifier, token) == "replayed"


def test_small_clock_skew_is_tolerated(verifier: JwtVerifier) -> None:
    token = sign(claims(exp=int(NOW) - 10, iat=int(NOW) - 300))  # expired 10 s ago; leeway is 30 s
    assert verifier.verify(f"Bearer {token}", audience=AUD).issuer == ISS


def test_tenant_allow_list(jwks: StaticJwks) -> None:
    v = JwtVerifier(
        [TrustedIssuer(ISS, JWKS_URL, tenants=frozenset({"t1"}))],
        jwks,
        InMemoryReplayStore(lambda: NOW),
        clock=lambda: NOW,
    )
    assert v.verify(f"Bearer {sign(claims(tenant='t1'))}", audience=AUD).tenant == "t1"
    assert reason(v, sign(claims(tenant="t2"))) == "tenant_not_allowed"
    assert reason(v, sign(claims())) == "tenant_not_allowed"


def test_key_rotation_refreshes_once(jwks: StaticJwks) -> None:
    new_key = ec.generate_private_key(ec.SECP384R1())
    jwks.on_refresh = jwk(new_key.public_key(), "ec-2", "ES384")
    v = JwtVerifier([TrustedIssuer(ISS, JWKS_URL)], jwks, InMemoryReplayStore(lambda: NOW), clock=lambda: NOW)
    token = sign(claims(), key=new_key, alg="ES384", kid="ec-2")
    assert v.verify(f"Bearer {token}", audience=AUD).kid == "ec-2"
    assert jwks.calls == [(JWKS_URL, False), (JWKS_URL, True)]


def test_allowed_jku_is_where_keys_are_read(jwks: StaticJwks) -> None:
    other = "https://keys.ehr.example.org/jwks"
    jwks.sets[other] = [jwk(RSA_KEY.public_key(), "rsa-9", "RS384")]
    v = JwtVerifier(
        [TrustedIssuer(ISS, JWKS_URL, allowed_jku=frozenset({other}))],
        jwks,
        InMemoryReplayStore(lambda: NOW),
        clock=lambda: NOW,
    )
    assert v.verify(f"Bearer {sign(claims(), kid='rsa-9', jku=other)}", audience=AUD).kid == "rsa-9"
    assert jwks.calls[0] == (other, False)


def test_the_specification_example_token_verifies() -> None:
    example = json.loads(SPEC.read_text())
    header, payload = example["header"], example["payload"]
    jwks = StaticJwks({header["jku"]: example["jwks"]["keys"]})
    v = JwtVerifier(
        [TrustedIssuer(payload["iss"], header["jku"], tenants=frozenset({payload["tenant"]}))],
        jwks,
        InMemoryReplayStore(lambda: payload["iat"] + 60.0),
        max_token_lifetime_s=None,  # the example token lives for three years
        clock=lambda: payload["iat"] + 60.0,
    )
    got = v.verify(f"Bearer {example['token']}", audience=payload["aud"])
    assert (got.jti, got.tenant, got.kid) == (payload["jti"], payload["tenant"], "example-kid")
    late = JwtVerifier(
        [TrustedIssuer(payload["iss"], header["jku"])], jwks, InMemoryReplayStore(), max_token_lifetime_s=None
    )
    assert reason(late, example["token"], payload["aud"]) == "expired"  # 2015 is long gone


def test_in_memory_replay_store_forgets_expired_entries() -> None:
    now = [NOW]
    store = InMemoryReplayStore(clock=lambda: now[0])
    exp = dt.datetime.fromtimestamp(NOW + 60, dt.UTC)
    assert store.seen("j", ISS, exp) is False
    assert store.seen("j", ISS, exp) is True
    assert store.seen("j", "https://other/", exp) is False  # per issuer
    now[0] = NOW + 120
    assert store.seen("j", ISS, exp) is False


def test_caching_jwks_fetcher_caches_and_limits_refreshes() -> None:
    calls: list[str] = []
    body = {"keys": [jwk(RSA_KEY.public_key(), "rsa-1", "RS384")]}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if "broken" in str(request.url):
            return httpx.Response(500)
        return httpx.Response(200, json=body)

    clock = [0.0]
    fetcher = CachingJwksFetcher(httpx.Client(transport=httpx.MockTransport(handler)), clock=lambda: clock[0])
    assert fetcher.get_jwks(JWKS_URL) == body
    assert fetcher.get_jwks(JWKS_URL, refresh=True) == body  # refresh within 60 s: served from cache
    assert len(calls) == 1
    clock[0] = 61.0
    fetcher.get_jwks(JWKS_URL, refresh=True)
    assert len(calls) == 2
    clock[0] = 4000.0  # past the TTL
    fetcher.get_jwks(JWKS_URL)
    assert len(calls) == 3
    with pytest.raises(AuthError, match="jwks_unavailable"):
        fetcher.get_jwks("https://ehr.example.org/broken")
