"""State objects on S3 (moto over HTTP): conditional creates and replaces, leases and versions."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from clickstream.leases import LeaseHeld, acquire
from clickstream.state_store import newest_version, prune_versions, store_for, write_version


@pytest.fixture
def lake(moto: str) -> str:
    boto3.client("s3").create_bucket(Bucket="state-lake")
    return "s3://state-lake/lake"


def test_create_is_exclusive_and_replace_needs_the_version_read(lake: str) -> None:
    store = store_for(lake)
    # GIVEN an object created once (If-None-Match: *)
    first = store.create("_state/x.json", "one")
    assert first is not None and store.create("_state/x.json", "two") is None
    # WHEN replaced with a stale version tag THEN refused; with the current one THEN written
    current = store.read("_state/x.json")
    assert current is not None and current.text == "one"
    assert store.replace("_state/x.json", "three", '"not-the-etag"') is None
    assert store.replace("_state/x.json", "three", current.etag) is not None
    found = store.read("_state/x.json")
    assert found is not None and found.text == "three"
    assert store.list("_state") == ["_state/x.json"]


def test_a_lease_on_s3_refuses_a_second_run(lake: str) -> None:
    held = acquire(lake, "curate_events", stale_minutes=20)
    with pytest.raises(LeaseHeld, match=held.holder):
        acquire(lake, "curate_events", stale_minutes=20)
    held.release()
    acquire(lake, "curate_events", stale_minutes=20).release()


def test_versions_are_new_objects_and_pruning_keeps_the_newest(lake: str) -> None:
    store = store_for(lake)
    for n in range(1, 6):
        assert write_version(store, "_state/bookmarks/job", n, f'{{"n": {n}}}')
    # GIVEN version 5 exists WHEN a second writer creates version 5 THEN it is refused
    assert not write_version(store, "_state/bookmarks/job", 5, "{}")
    prune_versions(store, "_state/bookmarks/job", keep=2)
    newest = newest_version(store, "_state/bookmarks/job")
    assert newest is not None and newest[0] == 5
    assert len(store.list("_state/bookmarks/job")) == 2


class _FirstAnswerLost:
    """An S3 client whose puts reach S3 but whose answers are lost once: the request is sent
    again (as botocore's retry does), and only the second answer comes back."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def put_object(self, **request: Any) -> Any:
        self._real.put_object(**request)  # succeeded on S3; its answer never arrived
        return self._real.put_object(**request)


def test_a_conditional_write_whose_answer_was_lost_is_this_writers_own(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clickstream.aws_clients as aws_clients

    real = aws_clients.aws_client
    monkeypatch.setattr(aws_clients, "aws_client", lambda *a, **k: _FirstAnswerLost(real(*a, **k)))
    store = store_for(lake)
    # GIVEN creates and replaces whose first answer is lost, so the retry fails its condition
    created = store.create("_state/x.json", "mine")
    # THEN the create is recognised as this writer's (the object holds exactly its text)
    found = store.read("_state/x.json")
    assert found is not None and created == found.etag and found.text == "mine"
    replaced = store.replace("_state/x.json", "mine, renewed", found.etag)
    again = store.read("_state/x.json")
    assert again is not None and replaced == again.etag and again.text == "mine, renewed"
    # AND another writer's text is still refused
    assert store.create("_state/x.json", "theirs") is None
    # AND a lease taken through such a client is this run's, not "held by another run"
    lease = acquire(lake, "curate_events", stale_minutes=20)
    lease.renew()
    lease.verify()
    lease.release()
