"""The web app: clinician pages, the patient interview, the knowledge browser, reports.

    from rootcause.web import install
    install(app)          # create_app does this: pages at /, static files at /static

Server-rendered HTML (Jinja2 templates in ``web/templates``), one stylesheet and a little
vanilla JavaScript in ``web/static``; no build step. Pages are not part of the OpenAPI
document. Browser logins are server-side sessions in the database (``web.auth``). See
docs/web.md.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from rootcause.web import pages_case, pages_interview, pages_knowledge, pages_note, pages_patients
from rootcause.web.auth import CsrfFailed, LoginRequired, login_url
from rootcause.web.render import render_page

router = APIRouter(include_in_schema=False)
for _module in (pages_case, pages_note, pages_patients, pages_interview, pages_knowledge):
    router.include_router(_module.router)

STATIC_DIR = str(resources.files("rootcause.web").joinpath("static"))


def install(app: FastAPI) -> None:
    """Add the pages, the static files and the page-specific error handling to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(
            login_url(exc.next_path), status_code=303, headers={"Cache-Control": "no-store"}
        )

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        engine = request.app.state.rootcause.engine
        context = {
            "title": "Form expired",
            "heading": "This form has expired",
            "message": "Please go back, reload the page and try again.",
        }
        return render_page(request, "error.html", engine, context, status=403)


__all__ = ["install", "router"]
