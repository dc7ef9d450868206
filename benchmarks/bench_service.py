"""Load benchmark of the REST service: requests/s, p50 and p99 at 50 concurrent clients.

Starts `rootcause serve --demo` on loopback with a temporary SQLite database, then loads
each endpoint for a bounded time (after a short warm-up, not counted) and prints a table and
each endpoint's ratio to the trivial health endpoint. Uses `wrk` when it is installed
(`apt-get install wrk`: a C load generator, so the client costs little CPU on the machine
under test), else an asyncio + httpx client pool.

    .venv/bin/python benchmarks/bench_service.py                 # 10 s per endpoint, 50 clients
    .venv/bin/python benchmarks/bench_service.py --workers 2 --duration 5 --client httpx

Target: p99 < 50 ms at 50 concurrent clients with zero errors. Exit status 1 if any request
failed (the latency target is reported, not enforced). Only loopback addresses are used.

To benchmark another endpoint, add it to ENDPOINTS.

CDS Hooks (`--endpoints cds,cds-notes`): the server is started with a benchmark EHR in
ROOTCAUSE_CDS_ISSUERS (organisation `demo`) whose JWK Set is served from a loopback HTTP server in
this process, and every request carries its own freshly signed RS384 JWT (a new `jti`), so the
server's full checks run, replay cache included; no setting is relaxed. The tokens are signed
before the run (wrk reads them from a file, one per request) so signing does not load the client.
`cds` sends a complete prefetch (no FHIR fetches); `cds-notes` adds a clinical note that the note
reader reads. Each call stores its assessment, as in production.

    .venv/bin/python benchmarks/bench_service.py --endpoints cds,cds-notes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from bench_cds import CDS_PATH, CdsEhr, cds_body

ROOT = Path(__file__).resolve().parent.parent
ROOTCAUSE = ROOT / ".venv" / "bin" / "rootcause"
DEMO_KEY = "rc_demo00000000_demo-key-public-never-use-in-production"
DEMO_CASE = json.loads((ROOT / "src" / "rootcause" / "demo" / "demo-case.json").read_text())
TARGET_P99_MS = 50.0


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    body: dict[str, Any] | None = None
    authenticated: bool = True
    cds: bool = False  # a CDS Hooks call: a fresh signed JWT per request instead of the API key


ENDPOINTS: dict[str, Endpoint] = {
    "assess": Endpoint("POST", "/v1/assess", DEMO_CASE),
    "health": Endpoint("GET", "/v1/health", authenticated=False),
    "assess-lean": Endpoint("POST", "/v1/assess?explain=false", DEMO_CASE),
    "cds": Endpoint("POST", CDS_PATH, cds_body(with_note=False), authenticated=False, cds=True),
    "cds-notes": Endpoint("POST", CDS_PATH, cds_body(with_note=True), authenticated=False, cds=True),
}
DEFAULT_ENDPOINTS = "assess,health"


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def headers(endpoint: Endpoint) -> dict[str, str]:
    out = {"content-type": "application/json"} if endpoint.body is not None else {}
    if endpoint.authenticated:
        out["x-api-key"] = DEMO_KEY
    return out


# ---------------------------------------------------------------------------- wrk


WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
{headers}
"""

# one pre-signed token per request, each wrk thread reading its own share of the file
WRK_TOKENS = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  tokens, n, i = {{}}, 0, 0
  for line in io.lines({path}) do
    if i % {threads} == tid - 1 then tokens[#tokens + 1] = line end
    i = i + 1
  end
end
function request()
  n = n + 1
  local headers = {{}}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["authorization"] = "Bearer " .. (tokens[n] or tokens[#tokens])
  return wrk.format(nil, nil, headers)
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def run_wrk(
    name: str,
    endpoint: Endpoint,
    base: str,
    clients: int,
    duration: float,
    threads: int,
    tokens: str | None = None,
) -> Result:
    script = WRK_SCRIPT.format(
        method=lua_string(endpoint.method),
        body=lua_string(json.dumps(endpoint.body)) if endpoint.body is not None else "nil",
        headers="\n".join(
            f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers(endpoint).items()
        ),
    )
    if tokens is not None:
        script += WRK_TOKENS.format(path=lua_string(tokens), threads=threads)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{clients}",
                f"-d{max(1, round(duration))}s",
                "--latency",
                "--timeout",
                "5s",
                "-s",
                f.name,
                base + endpoint.path,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=duration + 60,
        ).stdout
    finally:
        os.unlink(f.name)
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    seconds = float(re.search(r"requests in ([\d.]+)s", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Result(name, requests, seconds, wrk_ms(out, "50%"), wrk_ms(out, "99%"), errors)


def wrk_ms(out: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk output has no {percentile} latency:\n{out}")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


# ---------------------------------------------------------------------------- asyncio + httpx


async def run_httpx_async(
    name: str,
    endpoint: Endpoint,
    base: str,
    clients: int,
    duration: float,
    tokens: list[str] | None = None,
) -> Result:
    latencies: list[float] = []
    pool = list(reversed(tokens or []))
    errors = 0
    content = json.dumps(endpoint.body).encode() if endpoint.body is not None else None
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=5.0) as client:

        async def one_client(deadline: float) -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                extra = {"authorization": f"Bearer {pool.pop()}"} if endpoint.cds and pool else {}
                start = time.perf_counter()
                try:
                    r = await client.request(
                        endpoint.method, endpoint.path, content=content, headers=headers(endpoint) | extra
                    )
                    ok = r.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(one_client(started + duration) for _ in range(clients)))
        seconds = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(n - 1, int(p * n))] * 1000 if n else float("nan")

    return Result(name, n, seconds, pct(0.50), pct(0.99), errors)


# ---------------------------------------------------------------------------- server


def start_server(
    port: int, workers: int, db: Path, extra_env: dict[str, str] | None = None, server: str = "uvicorn"
) -> subprocess.Popen[bytes]:
    env = os.environ | {"ROOTCAUSE_DATABASE_PATH": str(db), "ROOTCAUSE_ENVIRONMENT": "development"}
    env.pop("ROOTCAUSE_DATABASE_URL", None)
    env |= extra_env or {}
    return subprocess.Popen(
        [
            str(ROOTCAUSE),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--demo",
            "--no-access-log",
            "--server",
            server,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rootcause serve exited with {proc.returncode}")
        try:
            if httpx.get(base + "/v1/ready", timeout=1.0).status_code == 200:
                ok = httpx.post(
                    base + "/v1/assess", json=DEMO_CASE, headers={"x-api-key": DEMO_KEY}, timeout=5.0
                )
                if ok.status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("rootcause serve did not become ready in time")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint (default 10)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of the same load before each endpoint's measured run, not counted (default 2; "
        "a worker's first requests pay for lazy imports and cold caches)",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument(
        "--server", choices=["uvicorn", "granian"], default="uvicorn", help="rootcause serve --server"
    )
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--endpoints", default=DEFAULT_ENDPOINTS, help=f"comma-separated, of: {', '.join(ENDPOINTS)}"
    )
    parser.add_argument(
        "--tokens-per-second",
        type=int,
        default=1500,
        help="CDS Hooks tokens signed per second of --duration (default 1500; more than served)",
    )
    args = parser.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    if client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk)")
    names = [n.strip() for n in args.endpoints.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENDPOINTS]
    if unknown:
        parser.error(f"unknown endpoints {unknown}; known: {', '.join(ENDPOINTS)}")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ehr = CdsEhr() if any(ENDPOINTS[n].cds for n in names) else None
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(
            port, args.workers, Path(tmp) / "bench.sqlite3", ehr.env(base) if ehr else None, args.server
        )
        try:
            wait_ready(base, proc)
            results = []
            for name in names:
                endpoint = ENDPOINTS[name]
                runs: list[tuple[str, float]] = [("warm-up", args.warmup)] if args.warmup > 0 else []
                for phase, seconds in [*runs, ("measure", args.duration)]:
                    tokens: list[str] | None = None
                    if ehr is not None and endpoint.cds:  # fresh tokens for each run: a spent one is a 401
                        count = max(1000, round(args.tokens_per_second * seconds))
                        tokens = list(ehr.tokens(base + endpoint.path, count))
                    if client == "wrk":
                        token_file = None
                        if tokens is not None:
                            token_file = str(Path(tmp) / f"{name}-{phase}.tokens")
                            Path(token_file).write_text("\n".join(tokens) + "\n")
                        result = run_wrk(
                            name, endpoint, base, args.concurrency, seconds, args.threads, token_file
                        )
                    else:
                        result = asyncio.run(
                            run_httpx_async(name, endpoint, base, args.concurrency, seconds, tokens)
                        )
                    if tokens is not None and result.requests > len(tokens):
                        print(
                            f"warning: {name} ran out of tokens; raise --tokens-per-second", file=sys.stderr
                        )
                results.append(result)
        finally:
            stop_server(proc)
            if ehr is not None:
                ehr.close()

    print(
        f"rootcause serve --server {args.server}: {args.workers} worker(s), SQLite; "
        f"{args.concurrency} concurrent clients, "
        f"{args.duration:g} s per endpoint after {args.warmup:g} s of warm-up, client {client}; "
        f"{os.cpu_count()} CPU(s)"
    )
    row = "{:<12} {:>9} {:>9} {:>8} {:>8} {:>7}  {}"
    print(
        row.format("endpoint", "requests", "req/s", "p50 ms", "p99 ms", "errors", f"p99<{TARGET_P99_MS:g}ms")
    )
    for r in results:
        verdict = "yes" if r.p99_ms < TARGET_P99_MS else "NO"
        print(
            row.format(
                r.name, r.requests, f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", r.errors, verdict
            )
        )
    by_name = {r.name: r for r in results}
    if "health" in by_name:
        h = by_name["health"]
        for a in results:
            if a.name != "health":
                print(
                    f"{a.name}/health: throughput {a.rps / h.rps:.2f}x, "
                    f"p50 {a.p50_ms / h.p50_ms:.1f}x, p99 {a.p99_ms / h.p99_ms:.1f}x"
                )
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
