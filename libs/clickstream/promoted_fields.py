"""Promoted fields pinned to the lake: adding one is fine, changing or dropping one needs a rebuild.

Adding a promoted field adds a column (old dates read null until rebuilt). Changing a field's
type would leave files of two types under one column (a Parquet read of the old files fails),
dropping one would hide the values stored in its column (they left properties), and a new field
placed before an existing one would move the columns position-based readers (Redshift COPY) rely
on. So the lake records its promoted fields in <lake>/_state/promoted_fields.json; a run whose
promoted_fields do not start with the recorded ones, in order and with the same types, refuses to
start, before Spark does, naming the field and `clickstream rebuild`. A run that adds fields at
the end records them.
"""

from __future__ import annotations

import json

from clickstream.config import ConfigError, Settings
from clickstream.state_store import store_for

PINNED_KEY = "_state/promoted_fields.json"


def check_promoted(settings: Settings) -> dict[str, str]:
    """Record the lake's promoted fields; fail (ConfigError) when a run changes, drops or
    reorders recorded ones."""
    store = store_for(settings.lake)
    wanted = dict(settings.promoted_fields)
    found = store.read(PINNED_KEY)
    if found is None:
        if store.create(PINNED_KEY, json.dumps(wanted, indent=1)) is None:
            return check_promoted(settings)  # another run recorded them first
        return wanted
    pinned: dict[str, str] = json.loads(found.text)
    _check_prefix(settings, pinned, wanted)
    added = len(wanted) > len(pinned)
    if added and store.replace(PINNED_KEY, json.dumps(wanted, indent=1), found.etag) is None:
        return check_promoted(settings)  # changed meanwhile: compare again
    return wanted


def _check_prefix(settings: Settings, pinned: dict[str, str], wanted: dict[str, str]) -> None:
    """The recorded fields must come first in wanted, in order, with the same types."""
    fix = "or rebuild the lake with the new fields: clickstream rebuild"
    lake = settings.lake
    for position, (name, kind) in enumerate(pinned.items()):
        if name not in wanted:
            raise ConfigError(
                f"promoted_fields.{name} is missing; the lake {lake} holds it as a {kind} column: "
                f"keep --set promoted_fields.{name}={kind}, {fix}"
            )
        if wanted[name] != kind:
            raise ConfigError(
                f"promoted_fields.{name}={wanted[name]!r} differs from {kind!r}, the type the lake "
                f"{lake} holds: run with --set promoted_fields.{name}={kind}, {fix} "
                f"--set promoted_fields.{name}={wanted[name]}"
            )
        if list(wanted).index(name) != position:
            order = ", ".join(pinned)
            raise ConfigError(
                f"promoted_fields.{name}: the lake {lake} holds {order} in this order; add new "
                f"fields after them, {fix}"
            )
