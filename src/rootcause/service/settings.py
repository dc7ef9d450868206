"""Service settings, read from ``ROOTCAUSE_*`` environment variables when first asked for.

Nothing is read at import time: ``create_app()`` builds ``Settings()`` (or takes one), and
``get_settings()`` caches one for the CLI. Every setting is listed in docs/deployment.md
(a test checks).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rootcause.service.cds_config import CdsIssuer, check_http_url, check_issuers

DEFAULT_SQLITE_PATH = Path("rootcause.sqlite3")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROOTCAUSE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="`production` refuses unsafe defaults: a relative SQLite path and demo data",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host:5432/rootcause; "
        "overrides database_path",
    )
    database_path: Path = Field(
        default=DEFAULT_SQLITE_PATH, description="SQLite file used when database_url is not set"
    )
    auto_migrate: bool = Field(default=True, description="apply database migrations at start-up")
    db_connect_timeout: float = Field(
        default=5.0, gt=0, le=120, description="seconds to wait for a connection or a lock"
    )
    db_pool_size: int = Field(default=5, ge=1, le=100, description="connections kept per worker (PostgreSQL)")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="largest accepted request body; larger gets 413"
    )
    max_batch_size: int = Field(default=100, ge=1, le=10_000, description="most cases in one batch request")
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="how long a worker trusts a verified API key before checking the database again",
    )
    docs_enabled: bool = Field(default=True, description="serve /docs, /redoc and /openapi.json")
    blas_threads: int = Field(
        default=1,
        ge=0,
        le=256,
        description="BLAS threads per worker (numpy); 1 avoids oversubscription under concurrent "
        "requests, 0 leaves the library default",
    )
    gc_threshold: int = Field(
        default=10_000,
        ge=0,
        le=1_000_000,
        description="allocations between two young-generation garbage collections in a worker "
        "(Python's default is 700; a call allocates thousands of short-lived objects, so the default "
        "collects several times a call: 10 000 made a CDS Hooks call 20% cheaper); 0 leaves the default",
    )

    public_base_url: str | None = Field(
        default=None,
        description="the URL clients use to reach this service (no trailing slash); CDS Hooks JWT "
        "audiences and card links are built from it, never from request headers",
    )
    cds_issuers: Annotated[list[CdsIssuer], NoDecode] = Field(
        default_factory=list,
        description="JSON list of EHRs allowed to call CDS Hooks: "
        '[{"iss", "jwks_url", "organisation", "tenant"?, "allowed_jku"?}]',
    )
    cds_discovery_requires_auth: bool = Field(
        default=False, description="also require the EHR's JWT on GET /cds-services"
    )
    cds_app_launch_url: str | None = Field(
        default=None,
        description="a SMART launch URL for CDS cards' smart link; unset: the link opens the stored "
        "assessment's page",
    )
    cds_fetch_budget_seconds: float = Field(
        default=2.0, gt=0, le=30, description="total time for FHIR fetches in one CDS Hooks call"
    )
    cds_refetch_null_prefetch: bool = Field(
        default=False,
        description="fetch prefetch keys the EHR sent as null (the spec: null means no data)",
    )
    cds_fhir_require_https: bool = Field(
        default=True, description="send the FHIR access token only to an https fhirServer"
    )
    cds_store_risk_assessment: bool = Field(
        default=False,
        description="also build and store a FHIR RiskAssessment with each CDS Hooks call (half its CPU); "
        "off by default because the stored case, result and knowledge-base version regenerate it",
    )
    cds_read_notes: bool = Field(
        default=True, description="read DocumentReference notes in CDS Hooks calls with the note reader"
    )
    cds_concurrent_calls: int = Field(
        default=8,
        ge=1,
        le=64,
        description="CDS Hooks calls a worker computes and stores at once (more wait their turn; a call "
        "waiting for the EHR's FHIR server does not count)",
    )

    cds_batch_calls: int = Field(
        default=32,
        ge=1,
        le=256,
        description="CDS Hooks calls that arrive together are answered as one batch of at most this "
        "many, on one thread per worker (one engine call, one write transaction)",
    )

    @field_validator("cds_issuers", mode="before")
    @classmethod
    def _issuers_json(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: JSON, decoded here for a clear error
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
        return value

    @field_validator("public_base_url", "cds_app_launch_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_http_url(value.rstrip("/"), what="the URL")

    @model_validator(mode="after")
    def _cds_hooks(self) -> Settings:
        check_issuers(self.cds_issuers)
        if self.cds_issuers and self.public_base_url is None:
            raise ValueError("ROOTCAUSE_CDS_ISSUERS needs ROOTCAUSE_PUBLIC_BASE_URL (the JWT audience)")
        if self.environment == "production" and self.cds_issuers:
            plain = [u for u in [self.public_base_url, *(i.jwks_url for i in self.cds_issuers)] if u]
            if any(not u.startswith("https://") for u in plain) or not self.cds_fhir_require_https:
                raise ValueError(
                    "in production CDS Hooks needs https: ROOTCAUSE_PUBLIC_BASE_URL, every jwks_url "
                    "and ROOTCAUSE_CDS_FHIR_REQUIRE_HTTPS=true"
                )
        return self

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        if (
            self.environment == "production"
            and self.database_url is None
            and not self.database_path.is_absolute()
        ):
            raise ValueError(
                "in production set ROOTCAUSE_DATABASE_URL or an absolute ROOTCAUSE_DATABASE_PATH "
                "(a relative SQLite path depends on the working directory)"
            )
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.database_path}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built on first use and then reused."""
    return Settings()
