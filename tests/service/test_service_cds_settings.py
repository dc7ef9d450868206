"""ROOTCAUSE_CDS_ISSUERS and ROOTCAUSE_PUBLIC_BASE_URL: parsed from the environment, checked at start-up."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from rootcause.cdshooks import VerifiedToken
from rootcause.service.cds_config import entry_for, trusted_issuers
from rootcause.service.settings import Settings

A = {"iss": "https://a.example", "jwks_url": "https://a.example/jwks", "organisation": "Clinic A"}


def settings(**values: Any) -> Settings:
    return Settings(database_url="sqlite://", **values)


def test_issuers_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOTCAUSE_PUBLIC_BASE_URL", "https://cds.example.org/")
    monkeypatch.setenv(
        "ROOTCAUSE_CDS_ISSUERS",
        '[{"iss": "https://a.example", "jwks_url": "https://a.example/jwks", "organisation": "Clinic A"}]',
    )
    s = Settings(database_url="sqlite://")
    assert s.public_base_url == "https://cds.example.org"  # no trailing slash
    assert [(i.iss, i.organisation, i.tenant) for i in s.cds_issuers] == [
        ("https://a.example", "Clinic A", None)
    ]
    monkeypatch.setenv("ROOTCAUSE_CDS_ISSUERS", "[{not json")
    with pytest.raises(ValidationError, match="not valid JSON"):
        Settings(database_url="sqlite://")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cds_issuers": [A]}, "needs ROOTCAUSE_PUBLIC_BASE_URL"),
        ({"cds_issuers": [A, A], "public_base_url": "https://x.org"}, "each must name its tenant"),
        (
            {
                "cds_issuers": [A | {"tenant": "t"}, A | {"tenant": "u", "jwks_url": "https://b/j"}],
                "public_base_url": "https://x.org",
            },
            "different jwks_url",
        ),
        (
            {"cds_issuers": [A | {"tenant": "t"}, A | {"tenant": "t"}], "public_base_url": "https://x.org"},
            "twice",
        ),
        ({"cds_issuers": [A | {"jwks_url": "ftp://a/j"}], "public_base_url": "https://x.org"}, "http"),
        ({"cds_issuers": [A | {"extra": 1}], "public_base_url": "https://x.org"}, "Extra inputs"),
        ({"public_base_url": "https://x.org/?q=1"}, "without query"),
        (
            {
                "cds_issuers": [A],
                "public_base_url": "http://x.org",
                "environment": "production",
                "database_url": "postgresql+psycopg://u@h/db",
            },
            "in production CDS Hooks needs https",
        ),
    ],
)
def test_bad_cds_settings_stop_the_service(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**({"database_url": "sqlite://"} | values))


def test_a_shared_issuer_maps_each_tenant_to_its_organisation() -> None:
    s = settings(
        public_base_url="https://x.org",
        cds_issuers=[A | {"tenant": "t1"}, A | {"tenant": "t2", "organisation": "Clinic B"}],
    )
    (trusted,) = trusted_issuers(s.cds_issuers)
    assert trusted.tenants == frozenset({"t1", "t2"}) and trusted.jwks_url == A["jwks_url"]

    def token(tenant: str | None) -> VerifiedToken:
        return VerifiedToken(A["iss"], "j", "k", None, None, tenant)  # type: ignore[arg-type]

    assert entry_for(s.cds_issuers, token("t2")).organisation == "Clinic B"  # type: ignore[union-attr]
    assert entry_for(s.cds_issuers, token("t3")) is None
