"""Admission: a bounded, fair queue in front of the model.

Why it exists: the model serves a few generations at a time (a diffusers pipeline one, under its
lock); without a queue in front of it, requests pile up on the lock in no order, one tenant can
take the whole model, and a request that cannot possibly be served before its deadline still waits
and then times out. Here, as Ray Serve and Triton do, the queue is bounded and the refusal early:

* a request whose **expected wait** exceeds its deadline (or the queue's maximum wait), or that
  finds the queue (or its tenant's share of it) full, is refused *before any work* with
  :class:`core.errors.Overloaded` (503 with ``Retry-After``), counted as a refusal;
* each tenant may run at most ``max_concurrent`` generations (its policy's ``admission``), so one
  tenant cannot take the whole model;
* free slots go to tenants in **weighted fair** order (stride scheduling over the estimated model
  time of each request: a tenant of weight 2 gets twice the model time of one of weight 1 while
  both wait; a tenant that was idle gets no credit for it);
* a slot is held until the backend has *actually* returned, not until the request gave up, so an
  abandoned generation that does not stop keeps the model busy in the books too, and
  :meth:`Admission.saturation` (``/readyz``) says so.

The expected wait comes from the work ahead, in cost units (images x megapixels x steps), times
the model's measured seconds per unit (a moving average over completed generations).

Imports: ``core`` (deadline, errors), ``gateway.metrics``, ``gateway.policy`` (the per-tenant
rules); the pipeline and the app state import this module, never the other way round.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from core.deadline import Deadline
from core.errors import Overloaded
from gateway.policy import AdmissionRules

if TYPE_CHECKING:  # pragma: no cover
    from gateway.metrics import Metrics

T = TypeVar("T")

#: seconds a Retry-After may say at most (a client should come back, not give up)
MAX_RETRY_AFTER_S = 300.0
_EWMA = 0.2


def request_cost(n: int, width: int, height: int, steps: int | None, default_steps: int | None) -> float:
    """A generation's size in cost units: images x megapixels (of 512x512) x denoising steps."""
    return max(1, n) * (width * height) / (512 * 512) * max(1, steps or default_steps or 20)


@dataclass
class _Waiter:
    tenant: str
    cost: float
    deadline: Deadline
    rules: AdmissionRules
    enqueued_at: float
    seq: int
    ticket: Ticket | None = None


@dataclass
class Ticket:
    """A granted slot on the model. :meth:`run` the backend call with it; the slot is freed when
    the call returns (however late), never when the request gives up on it."""

    admission: Admission
    tenant: str
    cost: float
    deadline: Deadline
    waited_s: float
    started_at: float = field(default_factory=time.monotonic)
    _released: bool = False

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        ok = False
        try:
            out = fn(*args)
            ok = True
            return out
        finally:
            self.release(completed=ok and not self.deadline.stopped)

    def release(self, *, completed: bool = False) -> None:
        self.admission._release(self, completed=completed)

    def expected_left_s(self, sec_per_unit: float | None, now: float) -> float:
        if sec_per_unit is None:
            return 0.0
        return max(0.0, self.cost * sec_per_unit - (now - self.started_at))


class Admission:
    """See the module docstring. ``concurrency`` is a number or a callable giving it (resolved at
    the first request: the backend may load lazily). Thread-safe."""

    def __init__(
        self,
        *,
        concurrency: int | Callable[[], int],
        queue_size: int,
        max_wait_s: float,
        overrun_grace_s: float = 1.0,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._concurrency_of = concurrency
        self._concurrency: int | None = concurrency if isinstance(concurrency, int) else None
        self.queue_size = queue_size
        self.max_wait_s = max_wait_s
        self.overrun_grace_s = overrun_grace_s
        self.metrics = metrics
        self._clock = clock
        self._cond = threading.Condition()
        self._queues: dict[str, deque[_Waiter]] = {}
        self._running: list[Ticket] = []
        self._running_by_tenant: dict[str, int] = {}
        self._pass: dict[str, float] = {}
        self._vtime = 0.0
        self._seq = itertools.count()
        #: measured model seconds per cost unit (None until a generation has completed)
        self.sec_per_unit: float | None = None

    # -- what the pipeline calls --------------------------------------------------------------
    @property
    def concurrency(self) -> int:
        if self._concurrency is None:
            value = self._concurrency_of() if callable(self._concurrency_of) else self._concurrency_of
            self._concurrency = max(1, int(value))
        return self._concurrency

    def precheck(self, tenant: str, rules: AdmissionRules, deadline: Deadline, cost: float) -> None:
        """Refuse now, before any work, what :meth:`acquire` would refuse on arrival."""
        with self._cond:
            self._refuse_on_arrival(tenant, rules, deadline, cost)

    def acquire(self, tenant: str, rules: AdmissionRules, deadline: Deadline, cost: float) -> Ticket:
        """Wait (fairly) for a slot on the model; raise :class:`Overloaded` where the wait cannot
        end within the request's deadline or the queue's maximum wait."""
        concurrency = self.concurrency
        with self._cond:
            self._refuse_on_arrival(tenant, rules, deadline, cost)
            now = self._clock()
            if tenant not in self._queues or not self._queues[tenant]:
                if self._running_by_tenant.get(tenant, 0) == 0:  # idle tenants bank no credit
                    self._pass[tenant] = max(self._pass.get(tenant, 0.0), self._vtime)
            w = _Waiter(tenant, cost, deadline, rules, now, next(self._seq))
            self._queues.setdefault(tenant, deque()).append(w)
            self._dispatch(concurrency)
            limit = min(deadline.remaining(), rules.max_wait_s or self.max_wait_s)
            end = now + limit
            while w.ticket is None:
                left = end - self._clock()
                if left <= 0:
                    self._queues[tenant].remove(w)
                    self._gauges()
                    estimate = self._expected_wait(tenant, rules, cost)
                    waited = self._clock() - now
                    self._refused("queue_timeout")
                    raise Overloaded(
                        f"the model did not become free within {waited:.1f} s "
                        f"({len(self._running)} running, {self._depth()} waiting)",
                        retry_after=_retry_after(estimate),
                        reason="queue_timeout",
                        hint="retry after the time in Retry-After",
                    )
                self._cond.wait(left)
            ticket = w.ticket
        if self.metrics is not None:
            self.metrics.admission_wait(ticket.waited_s)
        return ticket

    # -- readiness and metrics ------------------------------------------------------------------
    def saturation(self) -> str | None:
        """Why the model cannot take more work now (None when it can): the queue is full, or a
        generation has run past its deadline (plus a grace) without stopping."""
        with self._cond:
            now = self._clock()
            for t in self._running:
                over = t.deadline.overrun_s()
                if t.deadline.expires_at is not None and over > self.overrun_grace_s:
                    return (
                        f"a generation of tenant {t.tenant} overran its deadline by {over:.1f} s "
                        f"and has not stopped (running {now - t.started_at:.1f} s)"
                    )
            if self._concurrency is not None and len(self._running) >= self._concurrency:
                if self._depth() >= self.queue_size:
                    return f"the queue is full ({self._depth()} waiting, {len(self._running)} running)"
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {
                "running": len(self._running),
                "waiting": self._depth(),
                "queue_size": self.queue_size,
                "concurrency": self._concurrency,
                "tenants": {
                    t: {"waiting": len(self._queues.get(t, ())), "running": self._running_by_tenant.get(t, 0)}
                    for t in sorted(set(self._queues) | set(self._running_by_tenant))
                    if self._queues.get(t) or self._running_by_tenant.get(t)
                },
            }

    # -- internals (under self._cond) -----------------------------------------------------------
    def _depth(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def _refuse_on_arrival(self, tenant: str, rules: AdmissionRules, deadline: Deadline, cost: float) -> None:
        depth = self._depth()
        busy = self._concurrency is not None and len(self._running) >= self._concurrency
        estimate = self._expected_wait(tenant, rules, cost)
        if busy and depth >= self.queue_size:
            self._refused("queue_full")
            raise Overloaded(
                f"the model's queue is full ({depth} waiting, {len(self._running)} running)",
                retry_after=_retry_after(estimate),
                reason="queue_full",
                hint="retry after the time in Retry-After",
            )
        queued = len(self._queues.get(tenant, ()))
        if rules.max_queued is not None and queued >= rules.max_queued:
            self._refused("tenant_queue_full")
            raise Overloaded(
                f"tenant {tenant} already has {queued} requests waiting for the model "
                f"(its policy allows {rules.max_queued})",
                retry_after=_retry_after(estimate),
                reason="tenant_queue_full",
                hint="send fewer requests at once, or retry after the time in Retry-After",
            )
        budget = min(deadline.remaining(), rules.max_wait_s or self.max_wait_s)
        if estimate > budget:
            self._refused("expected_wait")
            raise Overloaded(
                f"the expected wait for the model ({estimate:.1f} s) exceeds this request's "
                f"time budget ({budget:.1f} s)",
                retry_after=_retry_after(estimate),
                reason="expected_wait",
                hint="retry after the time in Retry-After, or with fewer steps, a smaller size or n",
            )

    def _expected_wait(self, tenant: str, rules: AdmissionRules, cost: float) -> float:
        """Seconds until a request of ``tenant`` arriving now would start, under stride scheduling:
        the queued work that would be served before it, plus what the running work has left, over
        the slots. 0 while the model's speed is unknown (nothing has completed yet)."""
        spu = self.sec_per_unit
        if spu is None or self._concurrency is None:
            return 0.0
        now = self._clock()
        weight = max(rules.weight, 1e-6)
        mine = self._queues.get(tenant, deque())
        start = max(self._pass.get(tenant, 0.0), self._vtime)
        my_pass = start + sum(w.cost for w in mine) / weight
        ahead = sum(w.cost for w in mine)
        for other, q in self._queues.items():
            if other == tenant or not q:
                continue
            p = max(self._pass.get(other, 0.0), self._vtime)
            ow = max(q[0].rules.weight, 1e-6)
            for w in q:
                if p >= my_pass:
                    break
                ahead += w.cost
                p += w.cost / ow
        running_left = sorted(t.expected_left_s(spu, now) for t in self._running)
        free = self._concurrency - len(self._running)
        if free > 0 and ahead == 0:
            return 0.0
        total = ahead * spu + sum(running_left)
        wait = total / self._concurrency
        limit = rules.max_concurrent
        if limit is not None and self._running_by_tenant.get(tenant, 0) >= limit:
            own = [t.expected_left_s(spu, now) for t in self._running if t.tenant == tenant]
            wait = max(wait, min(own) if own else 0.0)
        return wait

    def _dispatch(self, concurrency: int) -> None:
        granted = False
        while len(self._running) < concurrency:
            best: _Waiter | None = None
            best_key: tuple[float, int] | None = None
            for tenant, q in self._queues.items():
                if not q:
                    continue
                head = q[0]
                limit = head.rules.max_concurrent
                if limit is not None and self._running_by_tenant.get(tenant, 0) >= limit:
                    continue
                key = (max(self._pass.get(tenant, 0.0), self._vtime), head.seq)
                if best_key is None or key < best_key:
                    best, best_key = head, key
            if best is None or best_key is None:
                break
            self._queues[best.tenant].popleft()
            self._vtime = best_key[0]
            self._pass[best.tenant] = best_key[0] + best.cost / max(best.rules.weight, 1e-6)
            now = self._clock()
            best.ticket = Ticket(
                admission=self,
                tenant=best.tenant,
                cost=best.cost,
                deadline=best.deadline,
                waited_s=now - best.enqueued_at,
                started_at=now,
            )
            self._running.append(best.ticket)
            self._running_by_tenant[best.tenant] = self._running_by_tenant.get(best.tenant, 0) + 1
            granted = True
        if granted:
            self._cond.notify_all()
        self._gauges()

    def _release(self, ticket: Ticket, *, completed: bool) -> None:
        with self._cond:
            if ticket._released:
                return
            ticket._released = True
            self._running.remove(ticket)
            n = self._running_by_tenant.get(ticket.tenant, 1) - 1
            if n > 0:
                self._running_by_tenant[ticket.tenant] = n
            else:
                self._running_by_tenant.pop(ticket.tenant, None)
            if completed and ticket.cost > 0:
                spu = (self._clock() - ticket.started_at) / ticket.cost
                self.sec_per_unit = (
                    spu if self.sec_per_unit is None else (1 - _EWMA) * self.sec_per_unit + _EWMA * spu
                )
            self._dispatch(self.concurrency)

    def _refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.refused(reason)

    def _gauges(self) -> None:
        if self.metrics is not None:
            self.metrics.admission_depth(self._depth(), len(self._running))


def _retry_after(estimate: float) -> float:
    if not math.isfinite(estimate):
        return MAX_RETRY_AFTER_S
    return min(MAX_RETRY_AFTER_S, max(1.0, estimate))
