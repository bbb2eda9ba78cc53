"""Moderation review: the queue of held generations, reviewers' decisions, release and the `/review` page.

:class:`ReviewQueue` is the service (``state.review_queue``); the API (:mod:`gateway.api.reviews`),
the page (:mod:`gateway.api.review_page`) and the CLI (:mod:`gateway.cli.review`) all go through it.
"""

from gateway.review.errors import ReviewConflict
from gateway.review.models import (
    DecisionIn,
    QueueFilter,
    QueuePage,
    ReasonCode,
    ReviewAction,
    ReviewDetail,
    ReviewState,
    ReviewStatus,
    ReviewSummary,
)
from gateway.review.queue import ReviewQueue
from gateway.review.webhooks import Webhooks, verify_signature

__all__ = [
    "DecisionIn",
    "QueueFilter",
    "QueuePage",
    "ReasonCode",
    "ReviewAction",
    "ReviewConflict",
    "ReviewDetail",
    "ReviewQueue",
    "ReviewState",
    "ReviewStatus",
    "ReviewSummary",
    "Webhooks",
    "verify_signature",
]
