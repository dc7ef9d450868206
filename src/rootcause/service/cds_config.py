"""Which EHRs may call the CDS Hooks service, and which organisation each one acts for.

``ROOTCAUSE_CDS_ISSUERS`` is a JSON list of :class:`CdsIssuer`::

    [{"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks.json",
      "organisation": "St Elsewhere spine clinic"}]

One entry per (issuer, tenant). An issuer shared by many health systems (Oracle Health signs every
client's JWT with one ``iss``) lists one entry per ``tenant``, each with its own organisation; the
token must then carry one of those tenants. An entry without ``tenant`` accepts any (or no) tenant and
must be that issuer's only entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rootcause.cdshooks.auth import TrustedIssuer, VerifiedToken

Url = Annotated[str, Field(min_length=8, max_length=500)]


def check_http_url(value: str, *, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{what} must be an http(s) URL without query or fragment, got {value!r}")
    return value


class CdsIssuer(BaseModel):
    """One EHR (JWT issuer, optionally one tenant of it) and the organisation it acts for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iss: Annotated[str, Field(min_length=1, max_length=255, description="the JWT `iss`, exactly")]
    jwks_url: Url = Field(description="where the issuer publishes its JWK Set")
    organisation: Annotated[
        str, Field(min_length=1, max_length=200, description="the organisation's name or id")
    ]
    tenant: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="the JWT `tenant` this entry is for (issuers shared by many clients)"
    )
    allowed_jku: list[Url] = Field(
        default_factory=list, description="further JWKS URLs a token's `jku` header may name"
    )

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url(cls, value: str) -> str:
        return check_http_url(value, what="jwks_url")

    @field_validator("allowed_jku")
    @classmethod
    def _jku(cls, value: list[str]) -> list[str]:
        return [check_http_url(v, what="allowed_jku") for v in value]


def check_issuers(entries: Sequence[CdsIssuer]) -> None:
    """Raise ``ValueError`` unless the entries make one unambiguous mapping."""
    by_iss: dict[str, list[CdsIssuer]] = {}
    for entry in entries:
        by_iss.setdefault(entry.iss, []).append(entry)
    for iss, group in by_iss.items():
        if len({e.jwks_url for e in group}) > 1:
            raise ValueError(f"the entries for issuer {iss!r} name different jwks_url values")
        tenants = [e.tenant for e in group]
        if None in tenants and len(group) > 1:
            raise ValueError(f"issuer {iss!r} has several entries, so each must name its tenant")
        if len(set(tenants)) != len(tenants):
            raise ValueError(f"issuer {iss!r} lists the same tenant twice")


def trusted_issuers(entries: Iterable[CdsIssuer]) -> list[TrustedIssuer]:
    """The verifier's allow-list: one ``TrustedIssuer`` per ``iss`` with the tenants it accepts."""
    by_iss: dict[str, list[CdsIssuer]] = {}
    for entry in entries:
        by_iss.setdefault(entry.iss, []).append(entry)
    out = []
    for iss, group in by_iss.items():
        tenants = [e.tenant for e in group if e.tenant is not None]
        out.append(
            TrustedIssuer(
                issuer=iss,
                jwks_url=group[0].jwks_url,
                allowed_jku=frozenset(u for e in group for u in e.allowed_jku),
                tenants=frozenset(tenants) if tenants else None,
            )
        )
    return out


def entry_for(entries: Iterable[CdsIssuer], token: VerifiedToken) -> CdsIssuer | None:
    """The configuration entry a verified token belongs to."""
    for entry in entries:
        if entry.iss == token.issuer and (entry.tenant is None or entry.tenant == token.tenant):
            return entry
    return None
