"""Verifying the EHR's bearer JWT on every CDS Hooks call (spec: "Trusting CDS Clients").

Checks, in order: a ``Bearer`` token; header ``alg`` is RS384 or ES384 (``none`` and every HMAC
algorithm are refused before any key is looked up) and ``kid`` is present; ``iss`` is on the allow-list;
a ``jku`` header, if any, is on that issuer's allow-list; the key is chosen by ``kid`` from the issuer's
JWKS (fetched through an injectable, caching :class:`JwksFetcher`, refreshed once on an unknown ``kid``
for key rotation); the signature; ``aud`` equals the exact endpoint URL; ``exp``, ``iat`` and ``jti``
are present; ``exp`` has not passed and ``iat``/``nbf`` are not in the future (small leeway); the
token does not outlive ``max_token_lifetime_s``; ``tenant`` is allowed when the issuer lists tenants;
and, last, ``jti`` has not been seen before (an injectable :class:`ReplayStore`, so only tokens with a
valid signature can fill it).

Every failure raises :class:`AuthError` with a machine-readable ``reason``; the router answers a bare
401 and may log the reason with ``iss`` and ``jti`` — never the token.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import jwt
import orjson
from jwt.exceptions import InvalidAudienceError, InvalidSignatureError, InvalidTokenError, PyJWTError

from rootcause.errors import RootcauseError

ALLOWED_ALGORITHMS = ("RS384", "ES384")


class AuthError(RootcauseError):
    """The request is not authenticated. ``reason`` is a short code; the message never holds the token."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class JwksFetcher(Protocol):
    def get_jwks(self, url: str, *, refresh: bool = False) -> Mapping[str, Any]:
        """The JWK Set at ``url``; ``refresh`` asks for a fresh copy (key rotation)."""
        ...


class ReplayStore(Protocol):
    def seen(self, jti: str, issuer: str, expires_at: dt.datetime) -> bool:
        """Record (issuer, jti) until ``expires_at`` and say whether it was already recorded.

        Must be atomic (e.g. an INSERT against a unique key) so two concurrent calls cannot both pass.
        """
        ...


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    jwks_url: str
    allowed_jku: frozenset[str] = frozenset()
    tenants: frozenset[str] | None = None  # None: any tenant (or none)


@dataclass(frozen=True)
class VerifiedToken:
    issuer: str
    jti: str
    kid: str
    expires_at: dt.datetime
    issued_at: dt.datetime
    tenant: str | None = None
    subject: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    replay_until: dt.datetime | None = None
    """Until when the ``jti`` must be remembered as spent (expiry plus the clock leeway)."""


class CachingJwksFetcher:
    """The default JWKS fetcher: ``httpx`` GET with a cache per URL.

    Entries live ``ttl_s``; a forced refresh is honoured at most once per ``min_refresh_interval_s`` per
    URL, so tokens with made-up ``kid`` values cannot make the service hammer the EHR.
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        ttl_s: float = 3600.0,
        min_refresh_interval_s: float = 60.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client or httpx.Client(follow_redirects=False)
        self._ttl = ttl_s
        self._min_refresh = min_refresh_interval_s
        self._timeout = timeout_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._lock = threading.Lock()

    def get_jwks(self, url: str, *, refresh: bool = False) -> Mapping[str, Any]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None:
            fetched_at, jwks = cached
            fresh = now - fetched_at < self._ttl
            may_refresh = now - fetched_at >= self._min_refresh
            if fresh and not (refresh and may_refresh):
                return jwks
        try:
            response = self._client.get(url, timeout=self._timeout, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            if cached is not None:
                return cached[1]
            raise AuthError("jwks_unavailable", type(exc).__name__) from exc
        if response.status_code != 200:
            if cached is not None:
                return cached[1]
            raise AuthError("jwks_unavailable", f"HTTP {response.status_code}")
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, Mapping) or not isinstance(body.get("keys"), list):
            if cached is not None:
                return cached[1]
            raise AuthError("jwks_unavailable", "not a JWK Set")
        with self._lock:
            self._cache[url] = (now, body)
        return body


class InMemoryReplayStore:
    """For tests and single-process development only: forgets on restart, not shared between workers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def seen(self, jti: str, issuer: str, expires_at: dt.datetime) -> bool:
        now = self._clock()
        with self._lock:
            for key in [k for k, exp in self._seen.items() if exp < now]:
                del self._seen[key]
            key = (issuer, jti)
            if key in self._seen:
                return True
            self._seen[key] = expires_at.timestamp()
            return False


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, not verified: only to choose the issuer and its key.

    ``jwt.decode`` then parses the token again, strictly, and checks the signature and claims. A
    second ``jwt.decode_complete`` here would check every character of all three parts once more
    (a fifth of the cost of verifying a token)."""
    try:
        header_part, claims_part, _ = token.split(".")
        header, claims = (
            orjson.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
            for p in (header_part, claims_part)
        )
    except (ValueError, binascii.Error) as exc:  # orjson.JSONDecodeError is a ValueError
        raise AuthError("malformed", type(exc).__name__) from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthError("malformed", "header or claims not a JSON object")
    return header, claims


def _numeric(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"missing_{name}" if value is None else f"invalid_{name}")
    return float(value)


class JwtVerifier:
    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        jwks: JwksFetcher,
        replay: ReplayStore,
        *,
        leeway_s: float = 30.0,
        max_token_lifetime_s: float | None = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuers = {i.issuer: i for i in issuers}
        self.jwks = jwks
        self.replay = replay
        self.leeway = leeway_s
        self.max_lifetime = max_token_lifetime_s
        self.clock = clock
        # key objects built from a JWK, by (JWKS url, kid, alg), with the JWK Set they came from:
        # reused only while the fetcher returns that same (cached) set
        self._keys: dict[tuple[str, str, str], tuple[Mapping[str, Any], Any]] = {}
        self._lock = threading.Lock()

    def _key(self, issuer: TrustedIssuer, url: str, kid: str, alg: str) -> Any:
        for refresh in (False, True):
            jwks = self.jwks.get_jwks(url, refresh=refresh)
            cached = self._keys.get((url, kid, alg))
            if cached is not None and cached[0] is jwks:  # the same JWK Set object as last time
                return cached[1]
            keys = jwks.get("keys") or []
            for jwk in keys:
                if not isinstance(jwk, Mapping) or jwk.get("kid") != kid:
                    continue
                if jwk.get("use") not in (None, "sig"):
                    raise AuthError("key_not_for_signing", f"kid {kid!r}")
                if jwk.get("alg") not in (None, alg):
                    raise AuthError("key_mismatch", f"kid {kid!r} is for {jwk.get('alg')}, token says {alg}")
                try:
                    key = jwt.PyJWK(dict(jwk), algorithm=alg).key
                except PyJWTError as exc:
                    raise AuthError("key_mismatch", f"kid {kid!r} cannot verify {alg}") from exc
                with self._lock:
                    if len(self._keys) >= 256:  # made-up kids cannot grow it without bound
                        self._keys.clear()
                    self._keys[(url, kid, alg)] = (jwks, key)
                return key
        raise AuthError("unknown_key", f"kid {kid!r} not in the JWKS of {issuer.issuer}")

    def verify(self, authorization: str | None, *, audience: str, claim: bool = True) -> VerifiedToken:
        """Verify the ``Authorization`` header value for the endpoint URL ``audience``.

        ``claim=False`` checks everything but the replay cache: the caller must then claim the token's
        ``jti`` (until ``token.replay_until``) before anything it does with the call is kept or answered,
        for example in the same transaction that stores the call."""
        if not authorization:
            raise AuthError("missing_token")
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("not_bearer")
        header, unverified = _unverified(token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthError("alg_not_allowed", f"alg {alg!r}")
        if header.get("typ") not in (None, "JWT", "jwt"):
            raise AuthError("wrong_typ", f"typ {header.get('typ')!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("missing_kid")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise AuthError("unknown_issuer", f"iss {iss!r}")
        jku = header.get("jku")
        if jku is not None and jku != issuer.jwks_url and jku not in issuer.allowed_jku:
            raise AuthError("jku_not_allowed", f"jku {jku!r}")
        key = self._key(issuer, jku or issuer.jwks_url, kid, alg)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.issuer,
                options={
                    "require": ["iss", "aud"],
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except InvalidSignatureError as exc:
            raise AuthError("bad_signature") from exc
        except InvalidAudienceError as exc:
            raise AuthError("wrong_audience", f"expected {audience!r}") from exc
        except InvalidTokenError as exc:
            raise AuthError("invalid_token", type(exc).__name__) from exc
        now = self.clock()
        exp = _numeric(claims, "exp")
        iat = _numeric(claims, "iat")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise AuthError("missing_jti")
        if exp <= now - self.leeway:
            raise AuthError("expired")
        if iat > now + self.leeway:
            raise AuthError("issued_in_future")
        if "nbf" in claims and _numeric(claims, "nbf") > now + self.leeway:
            raise AuthError("not_yet_valid")
        if self.max_lifetime is not None and exp - now > self.max_lifetime + self.leeway:
            raise AuthError("lifetime_too_long", f"exp is more than {self.max_lifetime:.0f}s away")
        tenant = claims.get("tenant")
        if issuer.tenants is not None and tenant not in issuer.tenants:
            raise AuthError("tenant_not_allowed", f"tenant {tenant!r}")
        expires_at = dt.datetime.fromtimestamp(exp, dt.UTC)
        replay_until = expires_at + dt.timedelta(seconds=self.leeway)
        if claim and self.replay.seen(jti, issuer.issuer, replay_until):
            raise AuthError("replayed", f"jti {jti!r}")
        return VerifiedToken(
            issuer=issuer.issuer,
            jti=jti,
            kid=kid,
            expires_at=expires_at,
            issued_at=dt.datetime.fromtimestamp(iat, dt.UTC),
            tenant=tenant if isinstance(tenant, str) else None,
            subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
            claims=dict(claims),
            replay_until=replay_until,
        )
