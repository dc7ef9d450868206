"""Docs that cannot drift: the CLI reference is generated and every command is in it."""

from __future__ import annotations

from pathlib import Path

import typer

from rootcause.cli.docs import cli_markdown
from rootcause.cli.main import app

ROOT = Path(__file__).parent.parent


def test_cli_reference_is_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == cli_markdown(), "regenerate with: python -m rootcause.cli.docs docs/cli.md"


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    group = typer.main.get_group(app)
    for name in group.commands:
        assert f"rootcause {name}" in text, name


def test_readme_quick_start_is_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "supports clinical decisions" in readme


def test_seed_claim_table_is_current() -> None:
    from rootcause import load_knowledge_base
    from rootcause.knowledge.traceability import traceability_markdown

    current = (ROOT / "docs" / "seed-claims.md").read_text(encoding="utf-8")
    assert current == traceability_markdown(load_knowledge_base())
