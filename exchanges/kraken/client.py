"""The signed HTTP transport to Kraken Futures: one session, explicit timeouts, one error table.

* Parameters are url-encoded ONCE (``encode_params``) and that exact string is both signed and sent: as the
  form body for POST/PUT, as the query string for GET (pitfall 3: Kraken hashes the encoded form).
* Every failure leaves as an ``exchanges.errors`` exception; ``requests``/``json`` exceptions never escape.
* Order calls are never retried here. Public (unsigned) GETs are retried once on a connection error (not on a
  timeout), because they are idempotent, free and the pipeline would otherwise fail a snapshot on one reset.
* The secret and the Authent header never appear in logs, exception messages or reprs; exceptions are raised
  ``from None`` so no ``requests`` object carrying the signed headers rides along as ``__cause__``.
* The session reads the environment (proxies, NO_PROXY, CA bundle, ~/.netrc) once, when it is made, not on every
  request as ``requests`` does by default: that re-reading was over a third of the client's CPU per call.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlencode

import requests

from exchanges.errors import (
    AmbiguousOutcome,
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    RateLimited,
    Unavailable,
)
from exchanges.kraken import signing
from exchanges.kraken.decoding import render_decimal
from exchanges.kraken.errors import DEFINITIVE_ONLY_WITH_VENUE_BODY, Kind, Source, classify, is_known, to_exception
from exchanges.kraken.ratelimit import KeyBudget, Pool, budget_for, cost_of

log = logging.getLogger(__name__)

# Kraken's words for a nonce it refused as out of order or seen before (reference section 2).
NONCE_REFUSALS = frozenset({"nonceBelowThreshold", "nonceDuplicate"})

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]

_SNIPPET = 200  # characters of a venue body kept in an exception, for the audit trail


class InvalidParameter(ValueError):
    """A parameter we refuse to format into a request (None is dropped, NaN/inf refused)."""


def _render(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # pitfall 14: urlencode would write "True"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidParameter(f"{key}: {value} is not finite")
        return render_decimal(value)
    if isinstance(value, float):
        # Floats are accepted only as a convenience for non-money parameters; money is Decimal.
        if not math.isfinite(value):
            raise InvalidParameter(f"{key}: {value} is not finite")
        return render_decimal(Decimal(str(value)))
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, Enum):
        return str(value.value)
    raise InvalidParameter(f"{key}: cannot send a {type(value).__name__}")


def encode_params(params: Params | None) -> str:
    """``urlencode(..., doseq=True)`` after rendering: arrays become repeated keys, None is left out."""
    if not params:
        return ""
    items: Iterable[tuple[str, Any]] = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue  # pitfall 17: never format None into a request
        if isinstance(value, list | tuple):
            pairs.extend((key, _render(key, v)) for v in value if v is not None)
        else:
            pairs.append((key, _render(key, value)))
    return urlencode(pairs, doseq=True)


def retry_after_from(headers: Mapping[str, str], default: float) -> float:
    """Seconds to wait, from ``rate-limit-reset`` (history, seconds) or ``Retry-After`` (seconds or a date)."""
    for name in ("rate-limit-reset", "Retry-After"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            seconds = float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                continue
            seconds = (when - datetime.now(UTC)).total_seconds()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return default


def session_for(base_url: str) -> requests.Session:
    """A ``requests`` session whose environment settings are resolved once, for ``base_url``, and pinned on it.

    With ``trust_env`` on (the default), every request walks the whole environment twice for proxy variables and
    looks for a ~/.netrc. The same lookups are done here, once, with the functions ``requests`` itself uses, so
    the effective proxies, CA bundle and netrc auth are exactly what they would have been; only a change of the
    process environment after start-up is no longer seen."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    netrc_auth = requests.utils.get_netrc_auth(base_url)
    if netrc_auth:
        session.auth = netrc_auth
    session.trust_env = False
    return session


class _Redacted:
    """Holds the decoded secret so that no repr, ``vars()`` dump or debugger view prints it."""

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<redacted>"


class KrakenClient:
    """One account's connection to Kraken Futures."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        budget: KeyBudget | None = None,
        nonces: signing.NonceSource | None = None,
        session: requests.Session | None = None,
        retry_public_reads: bool = True,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive: an unbounded wait on an order call is never acceptable")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        try:
            self._key = _Redacted(signing.decode_secret(api_secret)) if api_secret else None
        except signing.InvalidSecret:
            raise AuthenticationFailed("the API secret is not valid base64", venue_code="invalidSecret") from None
        self.timeouts = (float(connect_timeout), float(read_timeout))
        self.budget = budget if budget is not None else budget_for(api_key)
        self.nonces = nonces if nonces is not None else signing.nonce_source_for(api_key)
        self.session = session if session is not None else session_for(self.base_url)
        self.retry_public_reads = retry_public_reads

    def __repr__(self) -> str:
        return f"KrakenClient(base_url={self.base_url!r}, api_key={self.key_hint!r})"

    @property
    def key_hint(self) -> str:
        """Enough of the public key to tell accounts apart in logs."""
        return f"...{self._api_key[-4:]}" if len(self._api_key) > 8 else "..."

    def close(self) -> None:
        self.session.close()

    # -- the one request path -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        signed: bool = True,
        order_call: bool = False,
        batch_size: int = 0,
    ) -> dict[str, Any]:
        """Send one request and return its JSON object, or raise the taxonomy exception.

        ``order_call`` marks a request that may change exchange state: uncertainty becomes ``AmbiguousOutcome``
        and a definitive refusal ``OrderRejected``; for reads both become ``Unavailable``.
        """
        method = method.upper()
        what = f"{method} {path}"
        try:
            post_data = encode_params(params)
        except InvalidParameter as exc:
            # Refused before anything was sent: definitive for an order call.
            if order_call:
                raise OrderRejected("localValidation", f"{what}: {exc}") from None
            raise Unavailable(f"{what}: {exc}", venue_code="localValidation") from None
        pool, cost = cost_of(method, path, params or (), batch_size=batch_size)
        self.budget.reserve(pool, cost, what=what)
        try:
            return self._attempt(
                method, path, post_data, what, signed=signed, order_call=order_call, pool=pool, cost=cost
            )
        except AuthenticationFailed as exc:
            # A nonce refused as out of order is not a broken key: reads of one key overlap (routing/snapshot.py;
            # the engine's threads), and a request that drew its nonce first can reach Kraken after one that drew
            # later, past the venue's "brief period" of tolerance. Kraken refused the request before acting on it,
            # so a read is sent again once with a fresh nonce. Order calls are not re-sent here: they stay one
            # attempt each (routing/orders.py decides), and the refusal is definitive for them.
            if order_call or not signed or exc.venue_code not in NONCE_REFUSALS:
                raise
        log.info("kraken %s: nonce refused as out of order, reading once more with a fresh one", what)
        self.budget.reserve(pool, cost, what=what)
        return self._attempt(method, path, post_data, what, signed=signed, order_call=order_call, pool=pool, cost=cost)

    def _attempt(
        self,
        method: str,
        path: str,
        post_data: str,
        what: str,
        *,
        signed: bool,
        order_call: bool,
        pool: Pool,
        cost: int,
    ) -> dict[str, Any]:
        attempts = 2 if (self.retry_public_reads and not signed and method == "GET") else 1
        failure: ExchangeError | None = None
        for attempt in range(1, attempts + 1):
            try:
                response = self._send(method, path, post_data, signed=signed)
            except requests.exceptions.RequestException as exc:
                retry = (
                    attempt < attempts
                    and isinstance(exc, requests.exceptions.ConnectionError)
                    and not isinstance(exc, requests.exceptions.Timeout)
                )
                if retry:
                    log.info("kraken %s: connection error, retrying this public read once", what)
                    continue
                failure = self._transport_failure(what, exc, order_call)
                break
            return self._interpret(what, response, pool=pool, cost=cost, order_call=order_call)
        # Raised outside the except block, so no requests exception (which holds the signed request and its
        # Authent header) survives even as __context__.
        if failure is None:  # pragma: no cover - the loop either returns or records a failure
            raise AmbiguousOutcome(f"{what}: no response") if order_call else Unavailable(f"{what}: no response")
        raise failure

    def _send(self, method: str, path: str, post_data: str, *, signed: bool) -> requests.Response:
        headers = {"Accept": "application/json"}
        if signed:
            if self._key is None:
                raise AuthenticationFailed(f"{method} {path} needs an API secret", venue_code="noSecret")
            nonce = self.nonces.next()
            headers["APIKey"] = self._api_key
            headers["Nonce"] = nonce
            headers["Authent"] = signing.authent_with_key(self._key.value, post_data, nonce, path)
        url = self.base_url + path
        body: bytes | None = None
        if method in ("GET", "DELETE"):
            if post_data:
                url = f"{url}?{post_data}"
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = post_data.encode("ascii")  # the exact bytes that were signed
        started = time.monotonic()
        # Straight to the session's transport adapter, as Session.send would after its own bookkeeping - which is
        # skipped: merging per-request settings (pinned on the session already, `session_for`), a cookie jar Kraken
        # does not use, and working out the redirect that is never followed. That bookkeeping was a third of a
        # request's client-side CPU (~150 of ~480 µs against the fake on loopback), and an alert makes ~6 requests.
        session = self.session
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method, url=url, headers=headers, data=body, auth=session.auth)
        response = session.get_adapter(url).send(
            prepared,
            stream=False,
            timeout=self.timeouts,
            verify=session.verify,
            cert=session.cert,
            proxies=session.proxies,
        )
        response.content  # noqa: B018 - read now, as Session.send does: the connection goes back to the pool
        log.debug(
            "kraken %s %s -> %s in %.0f ms", method, path, response.status_code, (time.monotonic() - started) * 1000
        )
        return response

    # -- turning responses into values or taxonomy errors ---------------------------------------------

    @staticmethod
    def _transport_failure(what: str, exc: requests.exceptions.RequestException, order_call: bool) -> ExchangeError:
        # str(exc) names host, port and timeout - never headers - so it is safe to keep.
        text = f"{what}: {type(exc).__name__}: {exc}"
        kind = "timeout" if isinstance(exc, requests.exceptions.Timeout) else "transport"
        log.warning("kraken %s failed in transport (%s)", what, type(exc).__name__)
        return to_exception(Kind.UNAVAILABLE, kind, order_call=order_call, message=text)

    def _interpret(
        self, what: str, response: requests.Response, *, pool: Pool, cost: int, order_call: bool
    ) -> dict[str, Any]:
        code = response.status_code

        def snippet() -> str:
            # Only an error message needs it: decoding every successful body just to keep 200 characters cost time.
            return response.text[:_SNIPPET]

        if code == 429:
            wait = self._venue_rate_limited(response, pool, cost)
            raise RateLimited(f"{what}: HTTP 429 {snippet()}", retry_after=wait, venue_code="429")
        if code == 401:
            raise AuthenticationFailed(f"{what}: HTTP 401 {snippet()}", venue_code="401")
        if code >= 500 or 300 <= code < 400:
            # 5xx (and a redirect we refuse to follow) say nothing about whether an order call took effect.
            raise to_exception(Kind.UNAVAILABLE, str(code), order_call=order_call, message=f"{what}: HTTP {code}")

        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            kind = classify(Source.HTTP, str(code)) if code >= 400 else Kind.UNAVAILABLE
            if kind in DEFINITIVE_ONLY_WITH_VENUE_BODY:
                kind = Kind.UNAVAILABLE  # an HTML/garbled page proves nothing about what Kraken did
            word = str(code) if code >= 400 else "unparsableBody"
            raise to_exception(kind, word, order_call=order_call, message=f"{what}: HTTP {code}, body {snippet()!r}")

        error = self._error_of(body)
        if error is not None:
            kind, word = error
            wait = self._venue_rate_limited(response, pool, cost) if kind is Kind.RATE_LIMITED else 1.0
            raise to_exception(kind, word, order_call=order_call, message=f"{what}: {word}", retry_after=wait)
        if code >= 400:
            kind = classify(Source.HTTP, str(code))
            raise to_exception(kind, str(code), order_call=order_call, message=f"{what}: HTTP {code} {snippet()}")
        return body

    def _venue_rate_limited(self, response: requests.Response, pool: Pool, cost: int) -> float:
        """Kraken says we are over its limit (perhaps spent by another process): drain our pool to match."""
        self.budget.exhaust(pool)
        # Without a header, wait until our (now empty) pool could cover this call again; at least 1 s.
        fallback = self.budget.wait_for(pool, max(cost, 1)) if pool is not Pool.FREE else 1.0
        return retry_after_from(response.headers, default=max(fallback, 1.0))

    @staticmethod
    def _error_of(body: dict[str, Any]) -> tuple[Kind, str] | None:
        """The error a body carries, if any: classic ``error`` string or structured ``errors[].message``."""
        if body.get("result") != "error" and "errors" not in body:
            return None
        classic = body.get("error")
        if isinstance(classic, str) and classic:
            return classify(Source.ERROR, classic), classic
        status = body.get("status")
        message = ""
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = str(errors[0].get("message") or "")
        if isinstance(status, str) and is_known(Source.STRUCTURED, status):
            # Keep the venue's most specific words: "Argument invalid: orderType" beats "BAD_REQUEST".
            return classify(Source.STRUCTURED, status), message or status
        if message:
            return classify(Source.ERROR, message), message
        return Kind.UNAVAILABLE, str(status or "unknownError")
