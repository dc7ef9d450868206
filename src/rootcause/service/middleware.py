"""Pure-ASGI middleware: request id + access log + last-resort 500, and the body size limit.

The access log names the route template (``/v1/patients/{patient_id}``), never the concrete
path or query string, so no patient identifier or MRN reaches a log. An unexpected exception
is logged as its type and stack (no message, which may quote data) and answered with a plain
500 problem.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rootcause.service.problems import problem_response

access_log = logging.getLogger("rootcause.access")
error_log = logging.getLogger("rootcause.service")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope["rootcause.request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            error_log.error(
                "unhandled %s (request %s)\n%s",
                type(exc).__name__,
                request_id,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if response_started:
                raise
            response = problem_response(
                None, 500, "internal error; quote the request id to support", request_id=request_id
            )
            response.headers["x-request-id"] = request_id
            status = 500
            await response(scope, receive, send)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                route = scope.get("route")
                access_log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    getattr(route, "path", "(no route)"),
                    status,
                    (time.perf_counter() - started) * 1000,
                )


class BodyLimitMiddleware:
    """413 for a declared Content-Length over the limit, and for a stream that grows past it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    response = problem_response(
                        None,
                        413,
                        f"request body larger than {self.max_bytes} bytes",
                        slug="body-too-large",
                        request_id=scope.get("rootcause.request_id"),
                    )
                    await response(scope, receive, send)
                    return
        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)
