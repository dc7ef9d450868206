"""Prefetch templates, and getting their data whether or not the EHR prefetched it.

Prefetch is treated as partial (CDS Hooks, "Providing FHIR Resources to a CDS Service"):

- a missing key means "not attempted or failed": fetch it from ``fhirServer``;
- a key holding an ``OperationOutcome`` means the client's prefetch failed: fetch it;
- a ``null`` key means "the client has no data" per the spec: taken as empty (``refetch_null`` fetches);
- a prefetched ``Bundle`` with a ``next`` link is paged through.

Fetching uses an injectable :class:`FhirFetcher` (default :class:`HttpxFhirFetcher`) with the request's
``fhirAuthorization`` bearer token, one overall time budget, a per-request timeout and a page limit.
Failures never raise out of :func:`gather`: they are recorded so the caller can say what is missing.
The bearer token is sent only to ``fhirServer`` (``next`` links elsewhere are not followed) and only
over https unless ``require_https`` is off (development sandboxes).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from rootcause.cdshooks.models import HookRequest

TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")


class FetchError(Exception):
    """A FHIR read or search failed; the message is safe to show (no token, no URL)."""


class FetchDeferred(Exception):
    """Raised by ``DeferringFetcher``: the call needs the FHIR server, so it is answered elsewhere."""


class DeferringFetcher:
    """A fetcher that never fetches: it stops the call at its first fetch with ``FetchDeferred``, so
    calls with a complete prefetch can be answered together without waiting on any network."""

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any:
        raise FetchDeferred()


class FhirFetcher(Protocol):
    """One GET against the EHR's FHIR server, returning parsed JSON or raising ``FetchError``."""

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any: ...


class HttpxFhirFetcher:
    """The default fetcher: ``httpx`` with FHIR JSON headers, no redirects, a per-call timeout."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(follow_redirects=False)

    def get(self, url: str, *, access_token: str | None, timeout: float) -> Any:
        headers = {"Accept": "application/fhir+json, application/json"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        try:
            response = self._client.get(url, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise FetchError("timed out") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"request failed ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise FetchError("response is not JSON") from exc

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class PrefetchTemplate:
    key: str
    query: str
    resource_type: str
    description: str
    required: bool = False
    fetch_if_missing: bool = True


PREFETCH: tuple[PrefetchTemplate, ...] = (
    PrefetchTemplate("patient", "Patient/{{context.patientId}}", "Patient", "the patient (age, sex)"),
    PrefetchTemplate(
        "procedures",
        "Procedure?patient={{context.patientId}}",
        "Procedure",
        "procedures (which operation, when)",
        required=True,
    ),
    PrefetchTemplate(
        "observations",
        "Observation?patient={{context.patientId}}",
        "Observation",
        "observations (pain scores, examination findings, results)",
    ),
    PrefetchTemplate(
        "conditions", "Condition?patient={{context.patientId}}", "Condition", "conditions (risk factors)"
    ),
    # Notes for the note reader: fetched when missing only by a service that reads notes (``with_notes``).
    PrefetchTemplate(
        "documents",
        "DocumentReference?patient={{context.patientId}}",
        "DocumentReference",
        "clinical notes",
        fetch_if_missing=False,
    ),
)


def with_notes(templates: Sequence[PrefetchTemplate] = PREFETCH) -> tuple[PrefetchTemplate, ...]:
    """The templates with DocumentReference fetched when the EHR did not prefetch it."""
    return tuple(
        dataclasses.replace(t, fetch_if_missing=True) if t.resource_type == "DocumentReference" else t
        for t in templates
    )


@dataclass
class KeyStatus:
    source: str  # "prefetch" | "fetched" | "no data" | "unavailable" | "not requested"
    detail: str = ""
    count: int = 0


@dataclass
class Gathered:
    resources: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, KeyStatus] = field(default_factory=dict)
    elapsed_s: float = 0.0

    def unavailable(self, key: str) -> bool:
        st = self.status.get(key)
        return st is not None and st.source == "unavailable"

    def problems(self, templates: Sequence[PrefetchTemplate] = PREFETCH) -> list[str]:
        """One line per key that could not be obtained, in words for a card."""
        out: list[str] = []
        for t in templates:
            st = self.status.get(t.key)
            if st is not None and st.source == "unavailable":
                out.append(
                    f"{t.description[:1].upper()}{t.description[1:]} could not be obtained: {st.detail}"
                )
            elif st is not None and st.detail:
                out.append(f"{t.description[:1].upper()}{t.description[1:]}: {st.detail}")
        return out


def _is_resource(value: Any, rtype: str | None = None) -> bool:
    return isinstance(value, Mapping) and (
        value.get("resourceType") == rtype if rtype else isinstance(value.get("resourceType"), str)
    )


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def _entries(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in bundle.get("entry") or []:
        if isinstance(entry, Mapping) and _is_resource(entry.get("resource")):
            resource = dict(entry["resource"])
            if resource["resourceType"] != "OperationOutcome":
                out.append(resource)
    return out


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def render(query: str, context: Mapping[str, Any]) -> str | None:
    """Fill ``{{context.x}}`` (and ``{{userPractitionerId}}``-style) tokens; None if one is missing."""
    user = str(context.get("userId") or "")
    user_type, _, user_id = user.partition("/")
    values = {f"context.{k}": str(v) for k, v in context.items() if isinstance(v, str | int)}
    if user_id:
        values[f"user{user_type}Id"] = user_id
    missing = [m.group(1) for m in TOKEN.finditer(query) if m.group(1) not in values]
    if missing:
        return None
    return TOKEN.sub(lambda m: values[m.group(1)], query)


class _Pager:
    """Reads a search (or a prefetched Bundle's further pages) within the time budget and page limit."""

    def __init__(
        self,
        fetcher: FhirFetcher | None,
        base: str | None,
        token: str | None,
        deadline: float,
        request_timeout_s: float,
        max_pages: int,
        clock: Callable[[], float],
    ) -> None:
        self.fetcher = fetcher
        self.base = base
        self.token = token
        self.deadline = deadline
        self.request_timeout_s = request_timeout_s
        self.max_pages = max_pages
        self.clock = clock

    def _get(self, url: str) -> Any:
        if self.base is None or _origin(url) != _origin(self.base) or not url.startswith(self.base):
            raise FetchError("the page is not on fhirServer; not followed")
        if self.fetcher is None:
            raise FetchError("no fetcher configured")
        timeout = min(self.request_timeout_s, self.deadline - self.clock())
        if timeout <= 0:
            raise FetchError("time budget exhausted")
        return self.fetcher.get(url, access_token=self.token, timeout=timeout)

    def read(
        self, url: str | None, first: Mapping[str, Any] | None, resource_type: str
    ) -> tuple[list[dict[str, Any]], str]:
        """Resources from ``url`` (or from the prefetched Bundle ``first`` and its next pages).

        Returns the resources and, when paging stopped early, why. Raises ``FetchError`` only when
        not even the first page of ``url`` could be read.
        """
        resources: list[dict[str, Any]] = _entries(first) if first is not None else []
        next_url = _next_link(first) if first is not None else url
        pages = 0
        while next_url is not None:
            try:
                if pages >= self.max_pages:
                    raise FetchError(f"stopped after {self.max_pages} pages")
                page = self._get(next_url)
                pages += 1
                if _is_resource(page, "OperationOutcome"):
                    raise FetchError("the server returned an OperationOutcome")
                if first is None and pages == 1 and _is_resource(page, resource_type):
                    return [dict(page)], ""
                if not _is_resource(page, "Bundle"):
                    raise FetchError("the server returned something other than a FHIR Bundle")
            except FetchError as exc:
                if first is None and pages == 0:
                    raise
                return resources, f"only part of the data was read ({exc})"
            resources += _entries(page)
            next_url = _next_link(page)
        return resources, ""


def gather(
    request: HookRequest,
    *,
    fetcher: FhirFetcher | None,
    templates: Sequence[PrefetchTemplate] = PREFETCH,
    budget_s: float = 2.0,
    request_timeout_s: float = 1.5,
    max_pages: int = 5,
    require_https: bool = True,
    refetch_null: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> Gathered:
    """Collect every template's resources from prefetch, then from the FHIR server where needed."""
    started = clock()
    out = Gathered()
    prefetch = request.prefetch or {}
    base = str(request.fhirServer).rstrip("/") if request.fhirServer is not None else None
    token = request.fhirAuthorization.access_token if request.fhirAuthorization is not None else None
    pager = _Pager(fetcher, base, token, started + budget_s, request_timeout_s, max_pages, clock)

    for t in templates:
        value = prefetch.get(t.key, ...)
        if value is ... and not t.fetch_if_missing:
            out.status[t.key] = KeyStatus("not requested")
            continue
        if value is None and not refetch_null:
            out.status[t.key] = KeyStatus("no data")
            continue
        if _is_resource(value, "Bundle"):
            got, partial = pager.read(None, value, t.resource_type)
            out.resources += got
            out.status[t.key] = KeyStatus("prefetch", partial, len(got))
            continue
        if _is_resource(value) and not _is_resource(value, "OperationOutcome"):
            out.resources.append(dict(value))
            out.status[t.key] = KeyStatus("prefetch", "", 1)
            continue
        reason = ""
        if _is_resource(value, "OperationOutcome"):
            reason = "prefetch failed in the EHR"
        elif value is not ... and value is not None:
            reason = "prefetch value is not a FHIR resource"
        try:
            if base is None:
                raise FetchError("no fhirServer to fetch from")
            if require_https and not base.lower().startswith("https://"):
                raise FetchError("fhirServer is not https")
            query = render(t.query, request.context)
            if query is None:
                raise FetchError("the hook context lacks a value the query needs")
            got, partial = pager.read(f"{base}/{query}", None, t.resource_type)
        except FetchError as exc:
            detail = f"{reason}; fetch failed: {exc}" if reason else str(exc)
            out.status[t.key] = KeyStatus("unavailable", detail)
            continue
        out.resources += got
        out.status[t.key] = KeyStatus("fetched", partial, len(got))
    out.elapsed_s = clock() - started
    return out


def url_fetcher(
    request: HookRequest,
    *,
    fetcher: FhirFetcher | None,
    deadline: float,
    request_timeout_s: float = 1.5,
    require_https: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[str], Any] | None:
    """A GET of one URL on ``fhirServer`` (a relative URL is resolved against it) with the request's
    token, refused after ``deadline``; ``None`` when nothing may be fetched at all."""
    if request.fhirServer is None or fetcher is None:
        return None
    base = str(request.fhirServer).rstrip("/")
    if require_https and not base.lower().startswith("https://"):
        return None
    token = request.fhirAuthorization.access_token if request.fhirAuthorization is not None else None
    pager = _Pager(fetcher, base, token, deadline, request_timeout_s, 1, clock)

    def get(url: str) -> Any:
        return pager._get(url if "://" in url else f"{base}/{url.lstrip('/')}")

    return get
