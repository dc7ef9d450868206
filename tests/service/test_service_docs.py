"""Docs that cannot drift (datasette style): every route, setting and service command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from rootcause.cli.main import app as cli_app
from rootcause.service.app import create_app
from rootcause.service.settings import Settings

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"


def operations() -> list[str]:
    doc = create_app(Settings(database_url="sqlite://")).openapi()
    return sorted(f"{method.upper()} {path}" for path, ops in doc["paths"].items() for method in ops)


def test_every_route_is_in_docs_api_md() -> None:
    text = (DOCS / "api.md").read_text()
    missing = [op for op in operations() if f"`{op}`" not in text]
    assert not missing, f"document these routes in docs/api.md: {missing}"


def test_docs_api_md_lists_no_route_that_does_not_exist() -> None:
    text = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"`((?:GET|POST|PATCH|PUT|DELETE) /v1[^`\s]*)`", text))
    assert documented <= set(operations()), documented - set(operations())


def test_every_setting_is_in_docs_deployment_md() -> None:
    text = (DOCS / "deployment.md").read_text()
    missing = [
        f"ROOTCAUSE_{name.upper()}"
        for name in Settings.model_fields
        if f"`ROOTCAUSE_{name.upper()}`" not in text
    ]
    assert not missing, f"document these settings in docs/deployment.md: {missing}"


def test_service_commands_are_documented() -> None:
    text = (DOCS / "deployment.md").read_text() + (DOCS / "api.md").read_text()
    group = get_command(cli_app)
    for command in ("serve", "seed-demo", "db upgrade", "db current", "keys create"):
        assert f"rootcause {command}" in text, command
    serve = group.commands["serve"]  # type: ignore[attr-defined]
    for param in serve.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in text, f"document `rootcause serve {opt}` in docs/deployment.md"
