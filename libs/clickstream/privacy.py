"""Field controls applied in the reader: drop, keyed-hash or IP-mask JSON paths; pseudonymous ids.

One keyed hash serves every use (``keyed_hash``): HMAC-SHA256 under the lake's pseudonymize key,
hex, first 32 digits. ``user_id`` with ``pseudonymize_user_id``, the values of
``properties_hash`` paths, and (later) the suppression list of forgotten users all go through it,
so a user's pseudonym equals the keyed hash of their raw id wherever it appears.

A path is ``$.a.b`` or ``a.b``: keys from the record's top level; a list met on the way is walked
element by element. The contract's fields are not paths (user_id has its own setting).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The record fields of the contract: never removed or rewritten by a field control.
CONTRACT_FIELDS = ("event_id", "user_id", "event_type", "event_time", "title_id")
PATH_KEYS = ("properties_drop", "properties_hash", "properties_mask_ip")
# Hex digits kept of a keyed hash: 128 bits.
HASH_HEX_DIGITS = 32
# The message whose HMAC is the key's fingerprint (recorded in the lake; never the key).
_FINGERPRINT_MESSAGE = b"clickstream-etl pseudonymize key fingerprint v1"
# Shortest key accepted (characters of the environment variable or secret).
MIN_KEY_CHARS = 32

Path = tuple[str, ...]


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of value's UTF-8 under key, hex, first 32 digits (the one keyed hash)."""
    data = value.encode("utf-8", "surrogatepass")
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:HASH_HEX_DIGITS]


def key_fingerprint(key: bytes) -> str:
    """What the lake records to recognise its key: an HMAC of a fixed message, not the key."""
    return hmac.new(key, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:HASH_HEX_DIGITS]


def parse_path(key: str, text: object) -> Path:
    """`$.a.b` or `a.b` as its keys; ValueError naming the setting when it is not a path (config
    turns it into a ConfigError: this module is below config)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{key}: {text!r} is not a JSON path; write e.g. $.context.ip or ip")
    body = text.strip()
    body = body[2:] if body.startswith("$.") else body
    parts = tuple(body.split("."))
    if not all(parts) or any(re.search(r"[\[\]*$\s]", p) for p in parts):
        raise ValueError(
            f"{key}: {text!r} is not a JSON path of keys; write e.g. $.context.ip (lists on the "
            "way are walked element by element)"
        )
    if parts[0] in CONTRACT_FIELDS:
        hint = "use pseudonymize_user_id" if parts[0] == "user_id" else "it is a contract field"
        raise ValueError(f"{key}: {text!r} names the contract field {parts[0]!r}; {hint}")
    return parts


def validate_privacy(values: Mapping[str, Any]) -> None:
    """The field-control keys are lists of JSON paths, each in one list only."""
    seen: dict[Path, str] = {}
    for key in PATH_KEYS:
        paths = values[key]
        if not isinstance(paths, list):
            raise ValueError(
                f"{key}={paths!r}: expected a list of JSON paths, e.g. [$.context.ip] "
                f"(--set {key}=a.b,c)"
            )
        for text in paths:
            path = parse_path(key, text)
            if path in seen:
                raise ValueError(
                    f"{key}: {text!r} is also in {seen[path]}; keep each path in one list"
                )
            seen[path] = key
    if not isinstance(values["pseudonymize_user_id"], bool):
        raise ValueError(
            f"pseudonymize_user_id={values['pseudonymize_user_id']!r}: expected true or false"
        )
    if not str(values["pseudonymize_key_env"] or "").strip():
        raise ValueError(
            "pseudonymize_key_env is empty; name the environment variable holding the key, e.g. "
            "CLICKSTREAM_PSEUDONYMIZE_KEY"
        )


def needs_key(values: Mapping[str, Any]) -> bool:
    """Whether the settings use the keyed hash (pseudonymous ids or hashed paths)."""
    return bool(values["pseudonymize_user_id"] or values["properties_hash"])


def mask_ip(value: object) -> str | None:
    """IPv4 without its last octet, IPv6 without its last 80 bits (each of a comma-separated
    list, as in X-Forwarded-For); None for anything that is not an address."""
    if not isinstance(value, str):
        return None
    masked = []
    for part in value.split(","):
        try:
            address = ipaddress.ip_address(part.strip().strip("[]").split("%")[0])
        except ValueError:
            return None
        prefix = 24 if address.version == 4 else 48
        masked.append(
            str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
        )
    return ", ".join(masked)


def _json_text(value: object) -> str:
    """A value as the keyed hash takes it: a string as itself, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldControls:
    """The settings' field controls and, when one needs it, the key (never printed)."""

    drop: tuple[Path, ...] = ()
    hash: tuple[Path, ...] = ()
    mask_ip: tuple[Path, ...] = ()
    pseudonymize_user_id: bool = False
    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def of(cls, values: Mapping[str, Any], key: bytes | None) -> FieldControls:
        """The controls named in a settings mapping, with the resolved key."""
        paths = {k: tuple(parse_path(k, p) for p in values[k]) for k in PATH_KEYS}
        return cls(
            drop=paths["properties_drop"],
            hash=paths["properties_hash"],
            mask_ip=paths["properties_mask_ip"],
            pseudonymize_user_id=bool(values["pseudonymize_user_id"]),
            key=key,
        )

    @property
    def active(self) -> bool:
        """Whether any control applies."""
        return bool(self.drop or self.hash or self.mask_ip or self.pseudonymize_user_id)

    def pseudonym(self, user_id: str) -> str:
        """The stored user_id of a raw one."""
        assert self.key is not None
        return keyed_hash(self.key, user_id)

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """Apply drop, then hash, then mask to the record in place (user_id is left to the
        reader, which pseudonymizes valid ids only); returns it."""
        for path in self.drop:
            _visit(record, path, _DROP)
        for path in self.hash:
            _visit(record, path, self._hashed)
        for path in self.mask_ip:
            _visit(record, path, _masked)
        return record

    def _hashed(self, value: object) -> object:
        """A value's keyed hash (null stays null)."""
        assert self.key is not None
        return None if value is None else keyed_hash(self.key, _json_text(value))

    def scrub_text(self, text: str) -> str:
        """Best effort on text that is not a JSON object (a not_json line, an oversized record's
        head): each `"name": value` whose name ends a controlled path is replaced as the path's
        control says (dropped values become null), user_id by its pseudonym."""
        rules: dict[str, Any] = {}
        for paths, action in ((self.mask_ip, "mask"), (self.hash, "hash"), (self.drop, "drop")):
            for path in paths:
                rules[path[-1]] = action
        if self.pseudonymize_user_id:
            rules["user_id"] = "pseudonym"
        if not rules or '"' not in text:
            return text
        names = "|".join(re.escape(n) for n in sorted(rules, key=len, reverse=True))
        pattern = re.compile(
            rf'("(?:{names})"\s*:\s*)("(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false)'
        )

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)[1 : match.group(1).index('"', 1)]
            literal = match.group(2)
            try:
                value = json.loads(literal)
            except ValueError:
                value = literal
            action = rules[name]
            if action == "drop":
                new: object = None
            elif action == "mask":
                new = _masked(value)
            elif action == "hash":
                new = self._hashed(value)
            else:
                new = self.pseudonym(value) if isinstance(value, str) else None
            return match.group(1) + json.dumps(new, ensure_ascii=False)

        return pattern.sub(replace, text)


_DROP = object()


def _masked(value: object) -> object:
    """mask_ip of a value, or of each string of a list."""
    if isinstance(value, list):
        return [mask_ip(v) for v in value]
    return None if value is None else mask_ip(value)


def _visit(node: object, path: Sequence[str], action: object) -> None:
    """Apply action (_DROP or a function of the value) at path under node, walking lists."""
    if isinstance(node, list):
        for item in node:
            _visit(item, path, action)
        return
    if not isinstance(node, dict) or path[0] not in node:
        return
    if len(path) > 1:
        _visit(node[path[0]], path[1:], action)
    elif action is _DROP:
        del node[path[0]]
    else:
        node[path[0]] = action(node[path[0]])  # type: ignore[operator]
