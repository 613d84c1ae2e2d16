"""A realistic sample lake (Firehose raw zone and reference titles), byte-identical per seed.

Used by ``make demo``, tests and benchmarks. Only the standard library: every random choice comes
from one ``random.Random(seed)``, gzip members carry no timestamp, so the same arguments always
give the same files, names included. Records are rendered as strings and written one object at a
time (no per-event file I/O); users are generated in shards of about 400,000 events to bound
memory.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path

from clickstream.reasons import (  # the codes the reader gives these malformed records
    INVALID_EVENT_TIME,
    INVALID_TITLE_ID,
    INVALID_TYPE,
    MISSING_EVENT_ID,
    MISSING_EVENT_TYPE,
    MISSING_USER_ID,
    NOT_AN_OBJECT,
    NOT_JSON,
)
from clickstream_tools.dms_sample import write_dms_sample

STREAM = "clickstream"
RAW_PREFIX = "raw/clickstream"
TITLES_FILE = "ref/titles/titles.csv"


_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_SHARD_EVENTS = 400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Weighted tables indexed by int(random() * len): cheaper than random.choices per event.
_EVENT_TYPES = (
    ("view",) * 30
    + ("play",) * 20
    + ("pause",) * 10
    + ("resume",) * 6
    + ("stop",) * 6
    + ("click",) * 18
    + ("search",) * 10
)
_DEVICES = ("ios", "android", "web", "tv", "ios", "android")
_APP_VERSIONS = ("4.2.1", "4.2.0", "4.1.7", "5.0.0-beta")
_PAGES = ("home", "detail", "player", "search", "my_list")
_QUERIES = tuple(
    json.dumps(q, ensure_ascii=False)
    for q in (
        "오징어 게임",
        "사랑의 불시착",
        "stranger things",
        "더 글로리",
        'the "office"',
        "cooking, korean",
        "다큐멘터리",
        "kids",
        "이상한 변호사 우영우",
        "thriller 2026",
    )
)
_GENRES = ("drama", "comedy", "documentary", "kids", "thriller", "romance", "예능", "anime")
_KOREAN_TITLES = (
    "오징어 게임",
    "사랑의 불시착",
    "더 글로리",
    "이상한 변호사 우영우",
    "킹덤",
    "무빙",
    "나의 아저씨",
    "스위트홈",
)
_WORDS_A = ("Silent", "Golden", "Broken", "Midnight", "Hidden", "Last", "Crimson", "Lucky")
_WORDS_B = ("River", "Kingdom", "Signal", "Garden", "Harbor", "Code", "Summer", "Detective")


@dataclass(frozen=True)
class SampleReport:
    """What generate_sample wrote: counts for the accounting checks of tests and benchmarks."""

    lake_root: str
    objects: int
    empty_objects: int
    gzip_objects: int
    records: int
    unique_events: int
    redeliveries: int
    malformed: int
    late_events: int
    titles: int
    title_rows: int
    users: int
    bytes: int
    malformed_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def valid_records(self) -> int:
        """Records that pass validation: every unique event plus its re-delivered copies."""
        return self.unique_events + self.redeliveries


@dataclass
class _Object:
    """A raw object being assembled: name time, records (text, kind) and re-delivered copies."""

    stamp_ms: int
    records: list[tuple[str, int]]
    copies: list[tuple[str, int]] = field(default_factory=list)


# Record kinds: a valid event, a malformed JSON object, a malformed value that needs its own line.
_EVENT, _BAD_OBJECT, _BAD_LINE = 0, 1, 2


class _Clock:
    """Fast ISO-8601 rendering of epoch milliseconds (dates cached per day)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def day(self, day_index: int) -> str:
        text = self._days.get(day_index)
        if text is None:
            text = (_EPOCH + timedelta(days=day_index)).strftime("%Y-%m-%d")
            self._days[day_index] = text
        return text

    def iso(self, ms: int, shift_ms: int = 0) -> str:
        """'YYYY-MM-DDTHH:MM:SS' of ms + shift_ms."""
        ms += shift_ms
        sod = ms % _DAY_MS // 1000
        return f"{self.day(ms // _DAY_MS)}T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}"


def _uuid(rng: random.Random) -> str:
    """A random (seeded) UUID-4-shaped string."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _write_titles(lake: Path, rng: random.Random, titles: int) -> int:
    """ref/titles/titles.csv (RFC 4180) with Korean, commas, quotes and duplicate ids."""
    rows: list[tuple[str, str, str]] = []
    for i in range(1, titles + 1):
        if i % 7 == 3:
            title = f"{_KOREAN_TITLES[i % len(_KOREAN_TITLES)]} 시즌 {i % 4 + 1}"
        elif i % 11 == 5:
            title = f"{_WORDS_A[i % 8]}, {_WORDS_B[(i // 8) % 8]} and Other Stories"
        elif i % 13 == 6:
            title = f'The "{_WORDS_A[(i // 3) % 8]}" {_WORDS_B[i % 8]}'
        else:
            title = f"{_WORDS_A[rng.randrange(8)]} {_WORDS_B[rng.randrange(8)]} {i}"
        rows.append((f"t{i:04d}", title, _GENRES[rng.randrange(len(_GENRES))]))
    duplicates = max(2, titles // 100) if titles >= 10 else 0
    for _ in range(duplicates):
        title_id, title, genre = rows[rng.randrange(titles)]
        rows.insert(rng.randrange(len(rows) + 1), (title_id, f"{title} (Remastered)", genre))
    target = lake / TITLES_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(("title_id", "title", "genre"))
        writer.writerows(rows)
    return len(rows)


def _read_titles(lake: Path) -> list[tuple[str, str, str]]:
    """The rows of the titles CSV just written (for the DMS sample of the same titles)."""
    with (lake / TITLES_FILE).open(encoding="utf-8", newline="") as src:
        return [(r[0], r[1], r[2]) for r in list(csv.reader(src))[1:]]


def _malformed(rng: random.Random, clock: _Clock, t: int, user: str) -> tuple[str, int, str]:
    """One malformed record near time t: (text, kind, reason a reader must give it)."""
    iso = clock.iso(t)
    good = {
        "event_id": _uuid(rng),
        "user_id": user,
        "event_type": "view",
        "event_time": f"{iso}.000Z",
        "title_id": "t0001",
    }
    choice = rng.randrange(23)
    if choice < 7:
        lines = (
            (json.dumps(good)[: rng.randrange(10, 60)], NOT_JSON),
            (f"GET /v1/events HTTP/1.1 502 {iso}", NOT_JSON),
            ("<html><body>502 Bad Gateway</body></html>", NOT_JSON),
            ("{'event_id': 'single-quoted', 'user_id': 'u1'}", NOT_JSON),
            (json.dumps([good]), NOT_AN_OBJECT),
            (str(rng.randrange(1, 10_000)), NOT_AN_OBJECT),
            ('"just a string"', NOT_AN_OBJECT),
        )
        text, reason = lines[choice]
        return text, _BAD_LINE, reason
    bad = dict(good)
    reason = {
        7: MISSING_EVENT_ID,
        8: INVALID_TYPE,  # a number where the contract wants a string
        9: MISSING_EVENT_ID,
        10: MISSING_USER_ID,
        11: MISSING_USER_ID,
        12: MISSING_EVENT_TYPE,
        13: MISSING_EVENT_TYPE,
        21: INVALID_TITLE_ID,
        22: INVALID_TITLE_ID,
    }.get(choice, INVALID_EVENT_TIME)
    if choice == 7:
        del bad["event_id"]
    elif choice == 8:
        bad["event_id"] = rng.randrange(1_000_000)
    elif choice == 9:
        bad["event_id"] = ""
    elif choice == 10:
        bad["user_id"] = None
    elif choice == 11:
        bad["user_id"] = ""
    elif choice == 12:
        del bad["event_type"]
    elif choice == 13:
        bad["event_type"] = ""
    elif choice == 21:
        bad["title_id"] = 42
    elif choice == 22:
        bad["title_id"] = ["t0001"]
    elif choice == 19:
        del bad["event_time"]
    else:
        bad["event_time"] = {
            14: "2026-02-30T01:00:00Z",
            15: "yesterday",
            16: iso.replace("T", " "),
            17: f"{iso[:11]}24:00:00Z",
            18: iso,
            20: t / 1000,
        }[choice]
    return json.dumps(bad, ensure_ascii=False), _BAD_OBJECT, reason


class _Shard:
    """Events of a group of users, bucketed into Firehose objects by UTC arrival hour."""

    def __init__(
        self,
        rng: random.Random,
        clock: _Clock,
        *,
        start_ms: int,
        span_ms: int,
        titles: int,
        late_rate: float,
        malformed_rate: float,
    ) -> None:
        self.rng = rng
        self.clock = clock
        self.start_ms = start_ms
        self.span_ms = span_ms
        self.titles = titles
        self.late_rate = late_rate
        self.malformed_rate = malformed_rate
        self.arrivals: list[tuple[int, str, int]] = []
        self.late = 0
        self.malformed: Counter[str] = Counter()

    def event_time(self, t: int) -> tuple[int, str]:
        """A (possibly truncated) instant and its JSON rendering in one of the accepted forms."""
        r = self.rng.random()
        clock = self.clock
        if r < 0.50:
            return t, f'"{clock.iso(t)}.{t % 1000:03d}Z"'
        if r < 0.62:
            t -= t % 1000
            return t, f'"{clock.iso(t)}Z"'
        if r < 0.67:
            t -= t % 100
            return t, f'"{clock.iso(t)}.{t % 1000 // 100}Z"'
        if r < 0.70:
            t -= t % 10
            return t, f'"{clock.iso(t)}.{t % 1000 // 10:02d}Z"'
        if r < 0.85:
            return t, f'"{clock.iso(t, 9 * _HOUR_MS)}.{t % 1000:03d}+09:00"'
        return t, str(t)

    def session(self, user: str, user_index: int, size: int) -> None:
        """A burst of size events of one user, starting at a random instant of the range."""
        rng, random_ = self.rng, self.rng.random
        t = self.start_ms + rng.randrange(self.span_ms)
        title = rng.randrange(1, self.titles + 1)
        device = _DEVICES[user_index % len(_DEVICES)]
        version = _APP_VERSIONS[user_index % 7 % len(_APP_VERSIONS)]
        types = _EVENT_TYPES
        for i in range(size):
            if i:
                gap = int(rng.expovariate(1 / 40_000))
                t += min(gap, 25 * 60_000) if random_() > 0.02 else rng.randrange(2, 6) * 1_200_000
            etype = types[int(random_() * len(types))]
            extra = ""
            if etype == "search":
                title_part = ""
                extra = f', "query": {_QUERIES[int(random_() * len(_QUERIES))]}'
            else:
                if etype == "click":
                    title = rng.randrange(1, self.titles + 1)
                r = random_()
                if r < 0.03:
                    title_part = ""
                elif r < 0.05:
                    title_part = ', "title_id": null'
                elif r < 0.07:
                    title_part = f', "title_id": "t9{rng.randrange(1000):03d}x"'
                else:
                    title_part = f', "title_id": "t{title:04d}"'
                if r > 0.8:
                    extra = f', "context": {{"page": "{_PAGES[i % 5]}", "row": {i % 9}}}'
            t, when = self.event_time(t)
            text = (
                f'{{"event_id": "{_uuid(rng)}", "user_id": "{user}", "event_type": "{etype}", '
                f'"event_time": {when}{title_part}, "device": "{device}", '
                f'"app_version": "{version}"{extra}}}'
            )
            if random_() < self.late_rate:
                arrival = t + rng.randrange(_HOUR_MS, 30 * _HOUR_MS)
                self.late += 1
            else:
                arrival = t + 300 + min(int(rng.expovariate(1 / 20_000)), 300_000)
            self.arrivals.append((arrival, text, _EVENT))
            if random_() < self.malformed_rate:
                bad, kind, reason = _malformed(rng, self.clock, t, user)
                self.malformed[reason] += 1
                self.arrivals.append((arrival + rng.randrange(1, 5000), bad, kind))

    def objects(self) -> list[_Object]:
        """The shard's records cut into objects: per arrival hour, ~0.25-3 MB each, in order."""
        rng = self.rng
        self.arrivals.sort(key=itemgetter(0))
        result: list[_Object] = []
        i, n = 0, len(self.arrivals)
        while i < n:
            hour = self.arrivals[i][0] // _HOUR_MS
            j = bisect.bisect_left(self.arrivals, (hour + 1) * _HOUR_MS, i, n, key=itemgetter(0))
            block = self.arrivals[i:j]
            size = sum(len(text) for _, text, _ in block)
            parts = max(1, round(size / rng.uniform(250_000, 3_000_000)))
            if rng.random() < 0.15:
                parts += 1
            parts = min(parts, len(block))
            for p in range(parts):
                chunk = block[p * len(block) // parts : (p + 1) * len(block) // parts]
                result.append(_Object(chunk[0][0] - chunk[0][0] % 1000, [r[1:] for r in chunk]))
            i = j
        self.arrivals = []
        return result


def _redeliver(
    rng: random.Random, objects: list[_Object], rate: float, end_ms: int
) -> tuple[int, list[_Object]]:
    """Copy ~rate of the valid events into a later object (next one, hours or a day later)."""
    stamps = [o.stamp_ms for o in objects]
    extra: dict[int, _Object] = {}
    copies = 0
    for i, obj in enumerate(objects):
        for text, kind in obj.records:
            if kind != _EVENT or rng.random() >= rate:
                continue
            r = rng.random()
            if r < 0.75:
                target = obj.stamp_ms + rng.randrange(1000, 20 * 60_000)
            elif r < 0.93:
                target = obj.stamp_ms + rng.randrange(_HOUR_MS, 6 * _HOUR_MS)
            else:
                target = obj.stamp_ms + rng.randrange(20 * _HOUR_MS, 28 * _HOUR_MS)
            k = max(bisect.bisect_left(stamps, target), i + 1)
            if k < len(objects) and objects[k].stamp_ms < target + 6 * _HOUR_MS:
                objects[k].copies.append((text, kind))
            else:
                hour = min(target, end_ms) // _HOUR_MS
                if hour not in extra:
                    stamp = max(hour * _HOUR_MS + rng.randrange(_HOUR_MS) // 1000 * 1000, target)
                    extra[hour] = _Object(min(stamp, (hour + 1) * _HOUR_MS - 1000), [])
                extra[hour].copies.append((text, kind))
            copies += 1
    return copies, list(extra.values())


def _pretty(text: str) -> str:
    """A JSON object printed one member per line (json's own indent=2 is ~5x slower)."""
    members = json.loads(text).items()
    dumps = json.dumps
    return (
        "{\n"
        + ",\n".join(
            f"  {dumps(k, ensure_ascii=False)}: {dumps(v, ensure_ascii=False)}" for k, v in members
        )
        + "\n}"
    )


def _render(rng: random.Random, records: list[tuple[str, int]]) -> str:
    """The content of one object in a random Firehose-like layout."""
    layout = rng.random()
    texts = [text for text, _ in records]
    if layout < 0.45:  # newline-delimited, a few blank and whitespace-only lines
        for _ in range(len(texts) // 200 + (rng.random() < 0.5)):
            p = rng.randrange(len(texts))
            texts[p] += rng.choice(("\n", "\n   ", "\n\t"))
        return "\n".join(texts) + "\n"
    if layout < 0.52:  # newline-delimited with CRLF
        return "\r\n".join(texts) + "\r\n"
    if layout < 0.60:  # pretty-printed objects spanning lines
        return (
            "\n".join(_pretty(text) if kind != _BAD_LINE else text for text, kind in records) + "\n"
        )
    # Concatenated (the Firehose default), sometimes mixed with newlines; lines that are not
    # objects always stand on their own line.
    mixed = layout < 0.72
    parts = []
    for text, kind in records:
        if kind == _BAD_LINE:
            parts.append(f"\n{text}\n")
        elif mixed and rng.random() < 0.3:
            parts.append(text + rng.choice(("\n", " ", "\n\n")))
        else:
            parts.append(text)
    return "".join(parts)


def _object_path(lake: Path, stamp_ms: int, rng: random.Random, gz: bool) -> Path:
    """raw/clickstream/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>[.gz] of a time."""
    stamp = _EPOCH + timedelta(milliseconds=stamp_ms)
    name = f"{STREAM}-1-{stamp:%Y-%m-%d-%H-%M-%S}-{_uuid(rng)}{'.gz' if gz else ''}"
    return lake / RAW_PREFIX / f"{stamp:%Y/%m/%d/%H}" / name


def generate_sample(
    lake_root: str | Path,
    *,
    events: int = 20000,
    users: int = 2000,
    days: int = 3,
    start: date = date(2026, 3, 1),
    seed: int = 7,
    titles: int = 200,
    redelivery_rate: float = 0.05,
    malformed_rate: float = 0.01,
    late_rate: float = 0.01,
    gzip_rate: float = 0.3,
) -> SampleReport:
    """Write ref/titles/titles.csv and a raw zone of `events` unique events under lake_root."""
    if events < 1 or users < 1 or days < 1 or titles < 1:
        raise ValueError("events, users, days and titles must be at least 1")
    lake = Path(lake_root)
    rng = random.Random(seed)
    clock = _Clock()
    title_rows = _write_titles(lake, rng, titles)
    write_dms_sample(lake, _read_titles(lake), start=start, days=days, seed=seed)
    start_ms = (datetime(start.year, start.month, start.day, tzinfo=UTC) - _EPOCH) // timedelta(
        milliseconds=1
    )
    span_ms = days * _DAY_MS
    weights = [rng.paretovariate(1.3) for _ in range(users)]
    shards = math.ceil(events / _SHARD_EVENTS)
    malformed: Counter[str] = Counter()
    objects = empty = gz_objects = records = redeliveries = late = written = 0

    def write(stamp_ms: int, content: bytes, gz: bool) -> None:
        nonlocal objects, gz_objects, written
        if gz:
            content = gzip.compress(content, compresslevel=6, mtime=0)
        path = _object_path(lake, stamp_ms, rng, gz)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        objects += 1
        gz_objects += gz
        written += len(content)

    for s in range(shards):
        first_user, last_user = (
            s * users // shards,
            max((s + 1) * users // shards, s * users // shards + 1),
        )
        cumulative = []
        total = 0.0
        for w in weights[first_user:last_user]:
            total += w
            cumulative.append(total)
        shard = _Shard(
            rng,
            clock,
            start_ms=start_ms,
            span_ms=span_ms,
            titles=titles,
            late_rate=late_rate,
            malformed_rate=malformed_rate,
        )
        remaining = (s + 1) * events // shards - s * events // shards
        while remaining > 0:
            pick = bisect.bisect_left(cumulative, rng.random() * total)
            user_index = first_user + min(pick, len(cumulative) - 1)
            size = min(remaining, 1 + int(rng.expovariate(1 / 8)))
            shard.session(f"u{user_index:06d}", user_index, size)
            remaining -= size
        late += shard.late
        malformed += shard.malformed
        shard_objects = shard.objects()
        copies, extra = _redeliver(
            rng, shard_objects, redelivery_rate, start_ms + span_ms + 2 * _DAY_MS
        )
        redeliveries += copies
        for obj in [*shard_objects, *extra]:
            content = _render(rng, obj.records + obj.copies)
            records += len(obj.records) + len(obj.copies)
            write(obj.stamp_ms, content.encode("utf-8"), rng.random() < gzip_rate)
    hours = span_ms // _HOUR_MS
    for i in range(max(1, round(hours * 0.03))):
        stamp = start_ms + rng.randrange(hours) * _HOUR_MS + rng.randrange(3600) * 1000
        write(stamp, b"", i % 2 == 1)
        empty += 1
    return SampleReport(
        lake_root=str(lake),
        objects=objects,
        empty_objects=empty,
        gzip_objects=gz_objects,
        records=records,
        unique_events=events,
        redeliveries=redeliveries,
        malformed=sum(malformed.values()),
        late_events=late,
        titles=titles,
        title_rows=title_rows,
        users=users,
        bytes=written,
        malformed_by_reason=dict(sorted(malformed.items())),
    )
