"""Where the knowledge base's files and caches are, and how a cache file is trusted.

Kept free of pydantic and of the schema: the compiled engine is read from its cache
(`rootcause.engine.compiled`) without importing either.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TOP_LEVEL_FILES = (
    "manifest.yaml",
    "references.yaml",
    "findings.yaml",
    "timing.yaml",
    "triage.yaml",
    "interview.yaml",
    "procedures.yaml",
    "seed_claims.yaml",
)
"""The files the knowledge base is built from besides ``conditions/*.yaml``."""


def default_data_dir() -> Path:
    """The packaged knowledge base. Its files are read by path (`read_texts`), so the package is
    always on a file system; importlib.resources would only add 10 ms to every start-up."""
    return Path(__file__).parent / "data"


def cache_dir() -> Path:
    """``ROOTCAUSE_CACHE_DIR``, else the user's cache directory (``XDG_CACHE_HOME``)."""
    configured = os.environ.get("ROOTCAUSE_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rootcause" / "yaml"


def read_texts(root: Path) -> dict[str, str | None]:
    """The text of every file the knowledge base is built from, by path under `root`.

    Read once, before anything is parsed, so a cache key and the validation see the same
    text. A missing file maps to None (reported where the loader would have read it).
    """
    names = [
        *TOP_LEVEL_FILES,
        *(f"conditions/{p.name}" for p in sorted((root / "conditions").glob("*.yaml"))),
    ]
    texts: dict[str, str | None] = {}
    for name in names:
        try:
            texts[name] = (root / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            texts[name] = None
    return texts


def cache_key(
    cache_format: bytes, sources: tuple[Path, ...], versions: Iterable[str], texts: dict[str, str | None]
) -> str | None:
    """SHA-256 over a cache's format, the source of the code that builds what it stores, the
    versions of what that code runs on, and every file's path and text; None when not cacheable
    (a source cannot be read, or a file is missing: such a knowledge base fails validation)."""
    digest = hashlib.sha256(cache_format)
    try:
        for source in sources:
            digest.update(b"code\0%d\0" % len(source.name) + source.name.encode() + source.read_bytes())
    except OSError:
        return None
    for version in versions:
        digest.update(b"version\0" + version.encode() + b"\0")
    for name, text in texts.items():
        if text is None:
            return None
        data = text.encode("utf-8")
        digest.update(b"file\0%d\0%d\0" % (len(name), len(data)) + name.encode() + data)
    return digest.hexdigest()


def unpickle(payload: bytes, unpickler: type[pickle.Unpickler]) -> Any:
    """Unpickle with the cyclic collector paused: thousands of new objects and no reference
    cycles, so a collection part-way (which walks every object of every module) is pure cost."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return unpickler(io.BytesIO(payload)).load()
    finally:
        if collecting:
            gc.enable()


def read_pickled(path: Path, cache_format: bytes, key: str, unpickler: type[pickle.Unpickler]) -> Any:
    """What a trusted cache file holds (`read_trusted`), or None; a damaged payload of any kind
    is a miss, never an error. `unpickler` decides which types may be built."""
    payload = read_trusted(path, cache_format + key.encode() + b"\n")
    if payload is None:
        return None
    try:
        return unpickle(payload, unpickler)
    except Exception:
        return None


def write_pickled(
    path: Path,
    cache_format: bytes,
    key: str,
    value: Any,
    unpickler: type[pickle.Unpickler],
    identical: Callable[[Any, Any], bool],
    keep: int,
) -> None:
    """Store `value` if it reads back `identical` through `unpickler`; an unwritable cache is
    skipped (the cache is an optimisation: failing to store is never an error)."""
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if identical(unpickle(payload, unpickler), value):
            write_trusted(path, cache_format + key.encode() + b"\n", payload, keep)
    except Exception:
        pass


def read_trusted(path: Path, header: bytes) -> bytes | None:
    """The payload of a cache file, or None when absent, unreadable, damaged or not trusted.

    A file that is not this user's, or that others may write, is not trusted; it must start
    with `header` (its format and key) and its payload must match the SHA-256 stored after it.
    """
    try:
        with path.open("rb") as fh:
            status = os.fstat(fh.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                return None
            blob = fh.read()
    except OSError:
        return None
    if not blob.startswith(header):
        return None
    checksum, payload = blob[len(header) : len(header) + 32], blob[len(header) + 32 :]
    if hashlib.sha256(payload).digest() != checksum:
        return None
    return payload


def write_trusted(path: Path, header: bytes, payload: bytes, keep: int) -> None:
    """Store a cache file only this user may read or write, whole or not at all.

    Files of the same kind (the same prefix before the key) beyond the newest `keep` are
    removed: they belong to other code or data versions. Raises OSError where it cannot write.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(header + hashlib.sha256(payload).digest() + payload)
    partial.replace(path)
    kind = path.name.split("-", 1)[0]
    stale = sorted(path.parent.glob(f"{kind}-*{path.suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in stale[keep:]:
        old.unlink(missing_ok=True)
