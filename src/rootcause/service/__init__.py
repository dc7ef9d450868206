"""The HTTP service: REST API now; CDS Hooks, FHIR and the web UI plug in as routers.

    from rootcause.service.app import create_app
    app = create_app()          # settings from ROOTCAUSE_* variables, read now, not at import

See docs/api.md for the routes and docs/deployment.md for settings and deployment.
"""
