"""One writer at a time per job: a lease object under the lake's _state, taken before Spark starts.

A lease is <lake>/_state/leases/<job>.json. It is taken with a conditional create (S3
`If-None-Match: *`, an exclusive create locally), renewed by a background thread while the job
runs, and released when the job ends. A lease not renewed for lease_stale_minutes belongs to a run
that died: it is taken over with a conditional replace (`If-Match` on the version read), so of two
runs racing for a stale lease exactly one wins; the takeover is logged as a warning.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clickstream.state_store import StateStore, store_for


class LeaseHeld(RuntimeError):
    """Another run holds the job's lease."""


class LeaseLost(RuntimeError):
    """This run's lease was taken over (it was not renewed in time): it must not commit."""


# The folder of the leases under the lake root.
LEASES = "_state/leases"


def lease_key(job: str) -> str:
    """Where a job's lease lives under the lake root."""
    return f"{LEASES}/{job}.json"


def _now() -> datetime:
    return datetime.now(UTC)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """A job's lease held by this process; renew() keeps it, release() gives it back."""

    store: StateStore
    job: str
    holder: str
    started_at: str
    etag: str
    clock: Callable[[], datetime] = _now
    lost: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def _document(self) -> str:
        return json.dumps(
            {
                "job": self.job,
                "holder": self.holder,
                "started_at": self.started_at,
                "renewed_at": self.clock().isoformat(timespec="milliseconds"),
            }
        )

    def renew(self) -> None:
        """Rewrite the lease with a fresh renewed_at, only if it is still ours."""
        with self._lock:
            if self.lost:
                raise LeaseLost(self._lost_message())
            etag = self.store.replace(lease_key(self.job), self._document(), self.etag)
            if etag is None:
                self.lost = True
                raise LeaseLost(self._lost_message())
            self.etag = etag

    def _lost_message(self) -> str:
        return (
            f"lease of {self.job} was taken over by another run (it was not renewed within "
            "lease_stale_minutes); this run stops without committing"
        )

    def check(self) -> None:
        """Fail when the lease was lost (call before committing anything)."""
        if self.lost:
            raise LeaseLost(self._lost_message())

    def verify(self) -> None:
        """Re-read the lease right before a destructive write: LeaseLost unless it still holds
        this run's holder at the version this run last wrote.

        A run that stalled past lease_stale_minutes (a long GC pause, a suspended machine)
        learns here that another run took over, before it overwrites what that run committed.
        """
        with self._lock:
            if not self.lost:
                found = self.store.read(lease_key(self.job))
                holder = json.loads(found.text).get("holder") if found is not None else None
                self.lost = holder != self.holder or found is None or found.etag != self.etag
            if self.lost:
                raise LeaseLost(self._lost_message())

    def keep_renewed(self, every_s: float) -> None:
        """Renew the lease every every_s seconds from a daemon thread until release()."""

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    self.renew()
                except LeaseLost:
                    return
                except Exception:  # a transient store error: try again next period
                    continue

        self._thread = threading.Thread(target=loop, name=f"lease-{self.job}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            found = self.store.read(lease_key(self.job))
            if found is not None and json.loads(found.text).get("holder") == self.holder:
                self.store.delete(lease_key(self.job))


def acquire(
    lake: str,
    job: str,
    *,
    stale_minutes: float,
    warn: Callable[[str], None] = print,
    now: Callable[[], datetime] = _now,
) -> Lease:
    """Take the job's lease, or take over a stale one; LeaseHeld when a live run holds it."""
    store = store_for(lake)
    key = lease_key(job)
    holder, started = _holder(), now().isoformat(timespec="milliseconds")
    lease = Lease(store, job, holder, started, etag="", clock=now)
    created = store.create(key, lease._document())
    if created is not None:
        lease.etag = created
        return lease
    found = store.read(key)
    if found is None:  # released between our create and read: try once more
        return acquire(lake, job, stale_minutes=stale_minutes, warn=warn, now=now)
    doc = json.loads(found.text)
    renewed = datetime.fromisoformat(doc.get("renewed_at") or doc["started_at"])
    age = now() - renewed
    where = f"{lake}/{key}"
    if age < timedelta(minutes=stale_minutes):
        raise LeaseHeld(_held(lake, job, doc, stale_minutes))
    taken = store.replace(key, lease._document(), found.etag)
    if taken is None:
        raise LeaseHeld(f"{job}: another run took over the stale lease {where} first")
    lease.etag = taken
    warn(
        f"warning: took over the stale lease of {job} held by {doc.get('holder')} since "
        f"{doc.get('started_at')} (last renewed {doc.get('renewed_at')}, "
        f"{age.total_seconds() / 60:.1f} minutes ago)"
    )
    return lease


@dataclass
class Leases:
    """The leases one job run holds (its own and those of tables it shares), used as one."""

    held: list[Lease]

    def keep_renewed(self, every_s: float) -> None:
        """Renew every lease from its own daemon thread until release()."""
        for lease in self.held:
            lease.keep_renewed(every_s)

    def check(self) -> None:
        """Fail when any of the leases was lost (call before committing anything)."""
        for lease in self.held:
            lease.check()

    def verify(self) -> None:
        """Re-read every lease (Lease.verify): call right before a destructive write."""
        for lease in self.held:
            lease.verify()

    def release(self) -> None:
        """Release every lease still held, the last taken first."""
        for lease in reversed(self.held):
            lease.release()


def acquire_all(
    lake: str,
    jobs: Sequence[str],
    *,
    stale_minutes: float,
    warn: Callable[[str], None] = print,
) -> Leases:
    """Take the leases of jobs in order; all or none (LeaseHeld names the first one held)."""
    taken: list[Lease] = []
    try:
        for job in jobs:
            taken.append(acquire(lake, job, stale_minutes=stale_minutes, warn=warn))
    except BaseException:
        Leases(taken).release()
        raise
    return Leases(taken)


def _held(lake: str, job: str, doc: dict[str, str], stale_minutes: float) -> str:
    where = f"{lake}/{lease_key(job)}"
    return (
        f"{job} is already running: lease {where} is held by {doc.get('holder')} since "
        f"{doc.get('started_at')} (renewed {doc.get('renewed_at')}). If that run is dead, "
        f"the lease can be taken over once it is {stale_minutes:g} minutes old "
        f"(--set lease_stale_minutes=N), or delete {where}"
    )


def check_free(lake: str, jobs: list[str], *, stale_minutes: float) -> None:
    """Fail fast (LeaseHeld) when a live run holds the lease of any of the jobs."""
    store = store_for(lake)
    for job in jobs:
        found = store.read(lease_key(job))
        if found is None:
            continue
        doc = json.loads(found.text)
        renewed = datetime.fromisoformat(doc.get("renewed_at") or doc["started_at"])
        if _now() - renewed < timedelta(minutes=stale_minutes):
            raise LeaseHeld(_held(lake, job, doc, stale_minutes))
