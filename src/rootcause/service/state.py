"""What one app instance holds: settings, the database handle, the engine, a key cache.

Built by ``create_app``; no request state lives here (the service is stateless: anything a
later request needs is in the database), only immutable or re-derivable things.
"""

from __future__ import annotations

import hashlib
import threading
import time
from importlib.metadata import PackageNotFoundError, version

from rootcause.engine.assess import Engine, load_engine
from rootcause.service.batching import AssessmentBatcher
from rootcause.service.settings import Settings
from rootcause.storage import Database
from rootcause.storage.schemas import Actor


def software_version() -> str:
    try:
        return version("rootcause")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0+unknown"


class KeyCache:
    """Verified API keys for a few seconds, so most requests need no database round trip.

    Keyed by the SHA-256 of the presented key (the key itself is never kept). A revoked key
    stops working in this worker at once and in other workers within ``ttl`` seconds.
    """

    def __init__(self, ttl: float, max_entries: int = 4096) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Actor, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(presented: str) -> str:
        return hashlib.sha256(presented.encode()).hexdigest()

    def get(self, presented: str) -> Actor | None:
        if self.ttl <= 0:
            return None
        hit = self._entries.get(self._digest(presented))
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, presented: str, actor: Actor) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[self._digest(presented)] = (actor, time.monotonic() + self.ttl)

    def evict_key_id(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, (a, _) in self._entries.items() if a.key_id == key_id]:
                del self._entries[digest]


class ServiceState:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.database = Database(
            settings.sqlalchemy_url,
            connect_timeout=settings.db_connect_timeout,
            pool_size=settings.db_pool_size,
        )
        self.keys = KeyCache(settings.key_cache_seconds)
        self.software_version = software_version()
        self.cache: dict[str, bytes] = {}
        """Serialised responses that never change while the process runs (knowledge views)."""
        self._engine = engine
        self._batcher: AssessmentBatcher | None = None
        self._lock = threading.Lock()
        self._migrated = False

    @property
    def engine_loaded(self) -> bool:
        return self._engine is not None

    @property
    def migrated(self) -> bool:
        return self._migrated or not self.settings.auto_migrate

    @property
    def engine(self) -> Engine:
        """The engine, loaded on first use (start-up warms it)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = load_engine()
                    engine.kb  # noqa: B018  every response has the knowledge base's wording: read it now, not mid-request
                    self._engine = engine
        return self._engine

    @property
    def batcher(self) -> AssessmentBatcher:
        """Assesses the cases of concurrent requests together (service/batching.py)."""
        if self._batcher is None:
            self._batcher = AssessmentBatcher(self.engine)
        return self._batcher

    def migrate(self) -> None:
        """Apply migrations once per process when ``auto_migrate`` is on."""
        if self.settings.auto_migrate and not self._migrated:
            with self._lock:
                if not self._migrated:
                    self.database.upgrade()
                    self._migrated = True
