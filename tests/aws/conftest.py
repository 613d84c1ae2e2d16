"""AWS test fixtures: an isolated AWS env, one build (the moto server is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clickstream.aws.packaging import Artifacts, build_package
from clickstream.config import Settings, load_settings
from tests.aws_env import isolate_aws_env

# Nothing listens on the discard port: a call that escapes the moto fixture fails fast.
DEAD_ENDPOINT = "http://127.0.0.1:9"
ISSUE_OVERRIDES = (
    "artifacts_uri=s3://clickstream-artifacts/releases",
    "lake_uri=s3://clickstream-lake",
)


@pytest.fixture(scope="session", autouse=True)
def shared_botocore_data() -> Iterator[None]:
    """Parse botocore's static data files once per run instead of once per boto3.Session.

    The tooling makes a new boto3.Session for every client, and each new session lists the data
    folders and re-parses the same service-model JSON (about 0.1 s per client). Sessions, clients
    and requests stay real (over HTTP to moto); only the parsed files are shared, as they already
    are between the clients of one session.
    """
    from botocore.loaders import Loader

    cache: dict[tuple[Any, ...], Any] = {}
    patch = pytest.MonkeyPatch()
    for name in (
        "list_available_services",
        "determine_latest_version",
        "list_api_versions",
        "load_service_model",
        "load_data_with_path",
    ):
        original = getattr(Loader, name)

        def shared(
            self: Loader, *args: Any, _name: str = name, _load: Any = original, **kw: Any
        ) -> Any:
            key = (_name, tuple(self.search_paths), args, tuple(sorted(kw.items())))
            if key not in cache:
                cache[key] = _load(self, *args, **kw)
            return cache[key]

        patch.setattr(Loader, name, shared)
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, no profile or config file, and a dead endpoint unless `moto` is used."""
    isolate_aws_env(monkeypatch, tmp_path, DEAD_ENDPOINT)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """The package without EMR archives (tests/aws/test_emr_environment.py builds one), once."""
    return build_package(tmp_path_factory.mktemp("dist"), emr_archs=())


@pytest.fixture
def settings() -> Settings:
    """dev settings with the issue's overrides: buckets clickstream-artifacts and -lake."""
    return load_settings("dev", ISSUE_OVERRIDES)


@pytest.fixture
def buckets(moto: str) -> list[str]:
    """Create the two buckets of the issue's deploy call on the moto server."""
    import boto3

    s3 = boto3.client("s3")
    names = ["clickstream-artifacts", "clickstream-lake"]
    for name in names:
        s3.create_bucket(Bucket=name)
    return names
