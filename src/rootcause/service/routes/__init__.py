"""The routers ``create_app`` includes, one module per area.

To add an area (CDS Hooks, FHIR, the patient interview, the web UI), write a module here
that defines ``router = APIRouter(...)`` and add it to ``ROUTERS``. Use the dependencies in
``rootcause.service.deps`` (``StateDep``, ``EngineDep``, ``DatabaseDep``, ``ActorDep``) and
the storage layer (``rootcause.storage``: ``repository`` for patients and the audit log,
``sessions`` for state that must outlive a request, e.g. interview progress or a JWT replay
cache). Raise ``ProblemError`` for errors; a router that needs another error shape (CDS Hooks
may answer with a FHIR OperationOutcome) registers its own exception class and handler.
"""

from __future__ import annotations

from fastapi import APIRouter

from rootcause.service.routes import admin, assess, cds_hooks, health, interviews, knowledge, notes, patients

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    cds_hooks.router,  # routes are matched in order: the EHR's calls are the latency-critical ones
    assess.router,
    notes.router,
    knowledge.router,
    patients.router,
    interviews.router,
    admin.router,
)
