"""Finding the alert behind a complaint: whatever support pastes - an alert id, the trader's e-mail, a route, a
reason, an outcome, a time to the second, a client order id.

Each word of the search narrows the list (AND); each word matches whatever it can be (OR): `42` (or `#42`) an
alert id and nothing else, `trader@example.com` the owner, `live_access_required` or "Live access required" a
reason, `skipped` an outcome, `2026-12-04 18:03:12` (or `…T18:03:12Z`) alerts received or fired in that second
(`18:03` that minute), anything else a client or exchange order id, a route's name or its token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.db.models import Q

from audit.models import Decision
from audit.reasons import Reason

_MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(?:Z|\+00:00| ?UTC)?", re.IGNORECASE)
_OUTCOMES = {
    "sent": Decision.Action.SEND,
    "send": Decision.Action.SEND,
    "skipped": Decision.Action.SKIP,
    "skip": Decision.Action.SKIP,
    "rejected": Decision.Action.REJECT,
    "reject": Decision.Action.REJECT,
}
_REASON_LABELS = {label.casefold(): value for value, label in Reason.choices}


def alert_query(text: str) -> Q:
    query = Q()
    rest = text
    for found in _MOMENT.finditer(text):
        query &= _moment(found.group(1), found.group(2))
        rest = rest.replace(found.group(0), " ")
    # A reason's label has spaces ("Live access required"): take it whole before splitting into words.
    for label, value in _REASON_LABELS.items():
        if label in rest.casefold():
            query &= Q(decision__reason=value) | Q(reject_reason=value)
            rest = re.sub(re.escape(label), " ", rest, flags=re.IGNORECASE)
    for word in rest.split():
        query &= _word(word)
    return query


def _moment(day: str, clock: str) -> Q:
    start = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
    span = timedelta(seconds=1) if clock.count(":") == 2 else timedelta(minutes=1)
    return Q(received_at__gte=start, received_at__lt=start + span) | Q(fired_at__gte=start, fired_at__lt=start + span)


def _word(word: str) -> Q:
    bare = word.removeprefix("#")
    if bare.isdigit() and len(bare) < 19:
        return Q(pk=int(bare))  # an alert id, nothing looser
    options = Q(route__name__icontains=word) | Q(route__token=word)
    options |= Q(decision__orders__client_order_id=word) | Q(decision__orders__exchange_order_id=word)
    if "@" in word:
        options |= Q(route__owner__email__iexact=word)
    if word.casefold() in _OUTCOMES:
        options |= Q(decision__action=_OUTCOMES[word.casefold()])
    if word in Reason.values:
        options |= Q(decision__reason=word) | Q(reject_reason=word)
    return options
