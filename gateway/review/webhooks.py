"""Decision webhooks: a signed POST to the tenant's URL when a review is decided, retried with backoff.

Why an outbox: the decision and the delivery row are written in one transaction, so a decision is
never lost to a crash or a receiver that is down; a dispatcher thread (started with the API, or run
once by the CLI) sends due rows and reschedules failures at 2, 4, 8 ... seconds (capped at an hour)
until ``MAX_ATTEMPTS``. Rows are claimed with a conditional UPDATE, so replicas never double-send.

Signature (what a receiver checks, see :func:`verify_signature`)::

    Assay-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The timestamp is inside the MAC, so a captured request cannot be replayed outside the tolerance.
Receivers must treat deliveries idempotently (``Assay-Delivery`` names the delivery; a retry after
a lost response repeats it).

Where the URL comes from: the tenant's row (set by an admin: API or ``assay review webhook``), else
``ASSAY_REVIEW_WEBHOOK_URL`` / ``ASSAY_REVIEW_WEBHOOK_SECRET``; no URL, no webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select
from ulid import ULID

from core.errors import InvalidRequest, NotFound
from core.settings import Settings
from core.store import Database, table_of
from gateway.auth.tables import Tenant
from gateway.review.tables import ReviewDelivery, ReviewWebhook

log = logging.getLogger("assay.review.webhooks")

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 3600.0
SEND_TIMEOUT_S = 10.0
SEND_LEASE_S = 60.0
SIGNATURE_HEADER = "Assay-Signature"
DEFAULT_TOLERANCE_S = 300

_t = table_of(ReviewDelivery)


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str


def validate_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidRequest(f"webhook URL {url[:100]!r} must be an absolute http(s) URL", param="url")
    return url


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """What a receiver runs: the MAC matches and the timestamp is within ``tolerance_s``."""
    fields = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    expected = sign(secret, body, ts).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def backoff_s(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1`` (``attempts`` made so far, >= 1)."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempts - 1))


class Webhooks:
    """Webhook configuration per tenant, the outbox, and the sender."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.transport = transport
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- configuration -------------------------------------------------------------------------
    def set(self, tenant: str, url: str, secret: str) -> None:
        validate_url(url)
        if len(secret) < 16:
            raise InvalidRequest("the webhook secret must be at least 16 characters", param="secret")
        with self.db.session() as s:
            if s.get(Tenant, tenant) is None:
                raise NotFound(f"unknown tenant {tenant!r}")
            row = s.get(ReviewWebhook, tenant) or ReviewWebhook(
                tenant=tenant, url=url, secret=secret, updated_at=self.clock()
            )
            row.url, row.secret, row.updated_at = url, secret, self.clock()
            s.add(row)

    def remove(self, tenant: str) -> bool:
        with self.db.session() as s:
            row = s.get(ReviewWebhook, tenant)
            if row is None:
                return False
            s.delete(row)
            return True

    def target(self, tenant: str, session: Session | None = None) -> WebhookTarget | None:
        def find(s: Session) -> WebhookTarget | None:
            row = s.get(ReviewWebhook, tenant)
            if row is not None:
                return WebhookTarget(row.url, row.secret)
            url, secret = self.settings.review_webhook_url, self.settings.review_webhook_secret
            if url and secret:
                return WebhookTarget(url, secret.get_secret_value())
            return None

        if session is not None:
            return find(session)
        with self.db.session() as s:
            return find(s)

    # -- the outbox ----------------------------------------------------------------------------
    def enqueue(self, session: Session, *, tenant: str, review_id: str, event: dict[str, Any]) -> str | None:
        """Add a delivery to ``session`` (the caller's transaction); None when the tenant has no webhook."""
        target = self.target(tenant, session)
        if target is None:
            return None
        now = self.clock()
        delivery_id = str(ULID())
        body = json.dumps(
            {"id": delivery_id, **event}, ensure_ascii=False, separators=(",", ":"), default=str
        )
        session.add(
            ReviewDelivery(
                id=delivery_id,
                review_id=review_id,
                tenant=tenant,
                url=target.url,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
        )
        return delivery_id

    def deliveries(self, review_id: str) -> list[ReviewDelivery]:
        with self.db.session() as s:
            return list(
                s.exec(
                    select(ReviewDelivery)
                    .where(ReviewDelivery.review_id == review_id)
                    .order_by(ReviewDelivery.id)
                )
            )

    def run_due(self, limit: int = 20) -> int:
        """Send every due delivery (at most ``limit``); returns how many were attempted."""
        now = self.clock()
        with self.db.session() as s:
            due = list(
                s.exec(
                    select(ReviewDelivery.id)
                    .where(
                        or_(
                            and_(
                                col(ReviewDelivery.status) == "pending",
                                col(ReviewDelivery.next_attempt_at) <= now,
                            ),
                            # a sender died
                            and_(
                                col(ReviewDelivery.status) == "sending", col(ReviewDelivery.lease_until) < now
                            ),
                        )
                    )
                    .order_by(col(ReviewDelivery.next_attempt_at))
                    .limit(limit)
                )
            )
        attempted = 0
        for delivery_id in due:
            row = self._claim(delivery_id, now)
            if row is not None:
                self._send(row)
                attempted += 1
        return attempted

    def _claim(self, delivery_id: str, now: datetime) -> ReviewDelivery | None:
        with self.db.session() as s:
            res = s.exec(
                update(_t)
                .where(
                    _t.c.id == delivery_id,
                    or_(
                        and_(_t.c.status == "pending", _t.c.next_attempt_at <= now),
                        and_(_t.c.status == "sending", _t.c.lease_until < now),
                    ),
                )
                .values(status="sending", lease_until=now + timedelta(seconds=SEND_LEASE_S))
            )
            if res.rowcount != 1:
                return None
            return s.get(ReviewDelivery, delivery_id)

    def _send(self, row: ReviewDelivery) -> None:
        target = self.target(row.tenant)
        error: str | None
        if target is None:
            error = "the tenant's webhook was removed"
            attempts, final = row.attempts, True
        else:
            body = row.body.encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "assay-review-webhook/1",
                SIGNATURE_HEADER: sign(target.secret, body, int(self.clock().timestamp())),
                "Assay-Delivery": row.id,
                "Assay-Event": json.loads(row.body).get("type", ""),
            }
            try:
                with httpx.Client(
                    transport=self.transport, timeout=SEND_TIMEOUT_S, follow_redirects=False
                ) as client:
                    resp = client.post(target.url, content=body, headers=headers)
                error = None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            attempts, final = row.attempts + 1, False
        now = self.clock()
        if error is None:
            values: dict[str, Any] = {
                "status": "delivered",
                "attempts": attempts,
                "delivered_at": now,
                "lease_until": None,
                "last_error": None,
            }
        elif final or attempts >= MAX_ATTEMPTS:
            values = {
                "status": "failed",
                "attempts": attempts,
                "lease_until": None,
                "last_error": error[:500],
            }
            log.warning(
                "review webhook %s to %s failed for good after %d attempts: %s",
                row.id,
                row.url,
                attempts,
                error,
            )
        else:
            values = {
                "status": "pending",
                "attempts": attempts,
                "lease_until": None,
                "last_error": error[:500],
                "next_attempt_at": now + timedelta(seconds=backoff_s(attempts)),
            }
            log.info(
                "review webhook %s attempt %d failed (%s); next in %.0f s",
                row.id,
                attempts,
                error,
                backoff_s(attempts),
            )
        with self.db.session() as s:
            s.execute(update(_t).where(_t.c.id == row.id, _t.c.status == "sending").values(**values))


class WebhookDispatcher:
    """A daemon thread that sends due deliveries; :meth:`kick` wakes it after a decision."""

    def __init__(self, webhooks: Webhooks, *, poll_s: float = 5.0) -> None:
        self.webhooks = webhooks
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="assay-review-webhooks", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=SEND_TIMEOUT_S + 5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                while self.webhooks.run_due() and not self._stop.is_set():
                    pass
            except Exception:  # noqa: BLE001 - the loop must outlive a database hiccup
                log.exception("review webhook dispatcher pass failed")
