"""Backfill: re-send the case events of hooked items since a date, in large signed batches, at a limited rate
so the live flow keeps its share. Messages carry the same idempotency keys as the live ones, so what the
national platform already holds is answered `duplicate` and stored once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db.models import Q

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.exchange import messages
from tongban.exchange.client import HttpExchangeClient, TransportError, get_client
from tongban.exchange.delivery import encode_batch, post_batch
from tongban.exchange.models import BackfillRun


@dataclass
class BackfillResult:
    batches: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejected_keys: list[str] = field(default_factory=list)


class RateLimiter:
    """At most `rate` messages a second on average (0: no limit); a token bucket one second deep."""

    def __init__(self, rate: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.sleep = sleep
        self.allowance = rate
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        with self.lock:
            now = time.monotonic()
            self.allowance = min(self.rate, self.allowance + (now - self.last) * self.rate)
            self.last = now
            self.allowance -= n
            debt = -self.allowance
        if debt > 0:
            self.sleep(debt / self.rate)


def _bounds(since: dt.date, until: dt.date | None) -> tuple[dt.datetime, dt.datetime | None]:
    start = dt.datetime.combine(since, dt.time(0), tzinfo=clock.SHANGHAI)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=clock.SHANGHAI) if until else None
    return start, end


def count_events(*, since: dt.date, until: dt.date | None = None) -> int:
    return _events(since, until).count()


def _events(since: dt.date, until: dt.date | None):  # type: ignore[no-untyped-def]
    from tongban.cases.models import CaseEvent
    from tongban.catalog.models import ImplementationVersion

    start, end = _bounds(since, until)
    hooked = list(ImplementationVersion.objects.filter(hooked_national=True).values_list("id", flat=True))
    qs = CaseEvent.objects.filter(kind="transition", created_at__gte=start, case__item_version_id__in=hooked)
    return qs.filter(created_at__lt=end) if end else qs


COLUMNS = ("id", "created_at", "action", "from_state", "to_state", "case__number", "case__item_code",
           "case__item_title", "case__department", "case__region_code", "case__applicant_kind", "case__applicant_id")


def _chunks(since: dt.date, until: dt.date | None, size: int) -> Iterator[tuple[list[tuple], int]]:  # type: ignore[type-arg]
    """Keyset pages in (case, event) order, each page one query however deep the history, cut at a case
    boundary: one case's events are in one batch, in order, so batches sent side by side never reorder an
    entity's events. With each page, the case id below which every case is complete once it is sent."""
    qs = _events(since, until).order_by("case_id", "id")
    last_case, last_id = 0, 0
    carry: list[tuple] = []  # type: ignore[type-arg]
    while True:
        # `case_id >= last` (on both tables) is what lets PostgreSQL start the page at the index position: the
        # OR alone made every page scan from the first event (1.5 s a page at 828,000 events).
        rows = list(qs.filter(case_id__gte=last_case, case__id__gte=last_case)
                    .filter(Q(case_id__gt=last_case) | Q(id__gt=last_id))
                    .values_list(*COLUMNS, "case_id")[:size])
        if not rows:
            if carry:
                yield [r[:-1] for r in carry], ALL_DONE
            return
        last_case, last_id = rows[-1][-1], rows[-1][0]
        rows = carry + rows
        tail_case = rows[-1][-1]
        cut = len(rows)
        while cut > 0 and rows[cut - 1][-1] == tail_case:
            cut -= 1
        if cut == 0:  # one case larger than a page: send it whole (it goes on in the next page)
            carry = []
            yield [r[:-1] for r in rows], tail_case
            continue
        carry = rows[cut:]
        yield [r[:-1] for r in rows[:cut]], tail_case


ALL_DONE = 2**63 - 1


def _active_runs() -> list[BackfillRun]:
    return list(BackfillRun.objects.filter(finished_at__isnull=True).only("id", "since", "until", "done_below"))


def pending_history(items: list[tuple[str, str, int, messages.Built]], source_ids: dict[str, int]
                    ) -> list[tuple[str, str, int, messages.Built]]:
    """The live flow's side of the ordering with a backfill: while a backfill is unfinished, each case in the
    batch that it has not yet had acknowledged gets its earlier in-range events (not already in the batch)
    put ahead of its live messages, in seq order — same keys, so the backfill's copies are answered
    `duplicate` later. The national side never sees a case's live event before its history. `source_ids`:
    idempotency key → case event id of the batch's case events."""
    if not source_ids:
        return items
    runs = _active_runs()
    if not runs:
        return items
    from tongban.cases.models import CaseEvent

    case_of = dict(CaseEvent.objects.filter(pk__in=source_ids.values()).values_list("id", "case_id"))
    newest: dict[int, int] = {}
    for event_id, case_id in case_of.items():
        newest[case_id] = max(newest.get(case_id, 0), event_id)
    in_batch = {key for key, *_ in items}
    extra: list[tuple] = []  # type: ignore[type-arg]
    for run in runs:
        waiting = [c for c in newest if c >= run.done_below]
        if not waiting:
            continue
        for row in _events(run.since, run.until).filter(case_id__in=waiting).order_by("case_id", "id").values_list(
                *COLUMNS, "case_id"):
            if row[0] < newest[row[-1]] and f"{messages.CASE_EVENT}:{row[0]}" not in in_batch:
                in_batch.add(f"{messages.CASE_EVENT}:{row[0]}")
                extra.append(row[:-1])
    if not extra:
        return items
    who = messages._people({r[11] for r in extra})
    version = messages.VERSIONS[messages.CASE_EVENT]
    history: dict[str, list[tuple[str, str, int, messages.Built]]] = {}
    for r in extra:
        built = messages._case_event(r, who.get(r[11]))
        history.setdefault(built.entity, []).append((f"{messages.CASE_EVENT}:{r[0]}", messages.CASE_EVENT, version, built))
    out: list[tuple[str, str, int, messages.Built]] = []
    placed: set[str] = set()
    for item in items:
        entity = item[3].entity
        if entity in history:
            if entity in placed:
                continue
            placed.add(entity)
            mine = [i for i in items if i[3].entity == entity] + history[entity]
            out.extend(sorted(mine, key=lambda i: i[3].seq))
        else:
            out.append(item)
    return out


class _People:
    """Applicants' identities, decrypted once per person for the whole backfill (bounded)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.cache: dict[int, dict[str, str] | None] = {}
        self.limit = limit

    def get(self, ids: set[int]) -> dict[int, dict[str, str] | None]:
        missing = [i for i in ids if i not in self.cache]
        if missing:
            found = messages._people(missing)
            if len(self.cache) > self.limit:
                self.cache.clear()
            for i in missing:
                self.cache[i] = found.get(i)
        return {i: self.cache[i] for i in ids}


def _in_thread(func: Callable[..., None], *args: object) -> None:
    from django.db import connection

    try:
        func(*args)
    finally:
        connection.close()  # each pool thread's own connection, not left to the garbage collector


class _Watermark:
    """Which cases the national side has acknowledged: pages finish out of order with several senders; the
    run's `done_below` advances over the finished prefix only (lagging is safe: more duplicates, never
    disorder)."""

    def __init__(self, run: BackfillRun) -> None:
        self.run = run
        self.bounds: dict[int, int] = {}  # page number → its done_below
        self.finished: set[int] = set()
        self.next = 0  # the first page not yet finished
        self.lock = threading.Lock()

    def page(self, number: int, done_below: int) -> None:
        with self.lock:
            self.bounds[number] = done_below

    def finish(self, number: int, count: int) -> None:
        with self.lock:
            self.finished.add(number)
            advanced = None
            while self.next in self.finished:
                self.finished.discard(self.next)
                advanced = self.bounds.pop(self.next)
                self.next += 1
            self.run.messages += count
            if advanced is None:
                return
            self.run.done_below = advanced
            BackfillRun.objects.filter(pk=self.run.pk).update(done_below=advanced, messages=self.run.messages,
                                                              heartbeat_at=clock.now())


def backfill(*, since: dt.date, until: dt.date | None = None, rate: float = 5000, batch_size: int = 1000,
             concurrency: int = 2, client: HttpExchangeClient | None = None,
             progress: Callable[[int], None] | None = None, retries: int = 5,
             sleep: Callable[[float], None] = time.sleep) -> BackfillResult:
    """Re-send the case events of hooked items since `since`. Registered as a `BackfillRun` for as long as it
    runs, so the live flow keeps each case's order meanwhile (`pending_history`); an interrupted run keeps
    doing so until a later run covering it finishes (docs/exchange.md, "Backfill")."""
    client = client or get_client()
    limiter = RateLimiter(rate, sleep)
    people = _People()
    result = BackfillResult()
    lock = threading.Lock()
    started = time.monotonic()
    run = BackfillRun.objects.create(since=since, until=until, started_at=clock.now(), heartbeat_at=clock.now())
    mark = _Watermark(run)

    def send(number: int, batch_id: str, body: bytes, headers: dict[str, str], keys: list[str]) -> None:
        for attempt in range(retries + 1):
            try:
                answer = post_batch(client, batch_id, body, headers, keys)
                break
            except TransportError:
                if attempt == retries:
                    raise
                sleep(min(60.0, 2.0 ** attempt))
        with lock:
            result.batches += 1
            result.messages += len(keys)
            for r in answer.get("results") or []:
                status = r.get("status")
                if status == "accepted":
                    result.accepted += 1
                elif status == "duplicate":
                    result.duplicates += 1
                else:
                    result.rejected += 1
                    if len(result.rejected_keys) < 100:
                        result.rejected_keys.append(str(r.get("key")))
        mark.finish(number, len(keys))
        if progress:
            progress(len(keys))

    def encoded() -> Iterator[tuple[int, str, bytes, dict[str, str], list[str]]]:
        for number, (rows, done_below) in enumerate(_chunks(since, until, batch_size)):
            limiter.take(len(rows))
            who = people.get({r[11] for r in rows})
            items = [(f"{messages.CASE_EVENT}:{r[0]}", messages.CASE_EVENT, messages.VERSIONS[messages.CASE_EVENT],
                      messages._case_event(r, who.get(r[11]))) for r in rows]
            mark.page(number, done_below)
            yield (number, *encode_batch(items))

    try:
        if concurrency <= 1:  # in the caller's thread (and its transaction: the tests)
            for batch in encoded():
                send(*batch)
        else:  # build the next batches while earlier ones are on the wire
            pending: list[Future[None]] = []
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="exchange-backfill") as pool:
                for batch in encoded():
                    pending.append(pool.submit(_in_thread, send, *batch))
                    while len(pending) > concurrency * 2:  # bounded memory: wait for the oldest
                        pending.pop(0).result()
                for f in pending:
                    f.result()
    except BaseException:
        # Unfinished: the cases it did not reach keep their history sent ahead of live messages until a
        # later run covering this one finishes.
        BackfillRun.objects.filter(pk=run.pk).update(outcome="failed", heartbeat_at=clock.now(),
                                                     messages=run.messages)
        raise
    result.seconds = time.monotonic() - started
    now = clock.now()
    BackfillRun.objects.filter(pk=run.pk).update(finished_at=now, heartbeat_at=now, outcome="done",
                                                 done_below=ALL_DONE, messages=result.messages)
    # earlier runs that did not finish and that this one covers no longer hold anything back
    covered = BackfillRun.objects.filter(finished_at__isnull=True, since__gte=since)
    if until is not None:
        covered = covered.filter(until__isnull=False, until__lte=until)
    covered.update(finished_at=now, outcome="superseded")
    audit_record(action=Action.EXCHANGE_BACKFILL, actor=Actor.system("exchange.backfill"),
                 subject=Subject("exchange.backfill", run.pk),
                 details={"since": since.isoformat(), "messages": result.messages, "accepted": result.accepted,
                          "duplicates": result.duplicates, "rejected": result.rejected})
    return result
