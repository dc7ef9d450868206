"""Jinja2 templates and the HTML response every page goes through.

Templates live in ``rootcause/web/templates`` (package data), autoescaped, with undefined
names an error (a typo in a template fails the tests instead of rendering blank). Every page
gets the knowledge base's disclaimer, the login (if any) and its CSRF token, and security
headers: a strict Content-Security-Policy (scripts and styles only from /static), no framing,
no referrer, and ``no-store`` because pages show patient data.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from rootcause.engine.assess import Engine

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
NAV = [
    ("/", "Home"),
    ("/case", "New case"),
    ("/patients", "Patients"),
    ("/interview", "Patient interview"),
    ("/knowledge", "Knowledge base"),
]


def pct(p: float, digits: int = 0) -> str:
    """0.9881 → '99%'; tiny but non-zero probabilities read '<1%' (or '<0.1%'), never '0%'."""
    value = 100 * float(p)
    smallest = 10.0**-digits
    if 0 < value < smallest / 2:
        return f"<{smallest:.{digits}f}%"
    return f"{value:.{digits}f}%"


def signed(x: float) -> str:
    return f"{float(x):+.2f}"


def humanise(identifier: str) -> str:
    """'relief_then_sudden_return' → 'relief then sudden return'."""
    return identifier.replace("_", " ")


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rootcause.web", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["signed"] = signed
    env.filters["humanise"] = humanise
    return env


def render_page(
    request: Request,
    template: str,
    engine: Engine,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    user: Any = None,
) -> HTMLResponse:
    """Render ``template`` with the common context and answer with the security headers."""
    path = request.url.path
    ctx: dict[str, Any] = {
        "request_path": path,
        "nav": NAV,
        "disclaimer": engine.kb.manifest.disclaimer,
        "kb_version": engine.kb.version,
        "user": user,
        "csrf": getattr(user, "csrf", ""),
        "title": "",
    }
    ctx.update(context or {})
    html = environment().get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def markup(text: str) -> Markup:
    """Trusted, already-escaped HTML (server-built SVG)."""
    return Markup(text)
