"""Exchange accounts: connect a key (verified with the exchange before it is stored), replace it, remove it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import keys
from accounts.models import CredentialsUnreadable, ExchangeAccount
from exchanges.connect import exchange_for
from exchanges.errors import ExchangeError
from trader import selectors
from trader.forms import ConnectKeyForm, ReplaceKeyForm, WsKeyForm


@login_required
def exchange_list(request: HttpRequest) -> HttpResponse:
    accounts = list(selectors.accounts_of(request.user).prefetch_related("routes"))
    return render(request, "trader/exchange_list.html", {"nav": "exchange", "accounts": accounts})


@login_required
def exchange_connect(request: HttpRequest) -> HttpResponse:
    form = ConnectKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = keys.connect_account(
                owner=request.user,
                label=form.cleaned_data["label"],
                api_key=form.cleaned_data["api_key"],
                api_secret=form.cleaned_data["api_secret"],
                now=timezone.now(),
            )
        except keys.KeyRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Connected. Kraken confirmed the key can trade and cannot withdraw (key {account.key_fingerprint}).",
            )
            return redirect("exchange_detail", pk=account.pk)
    return render(request, "trader/exchange_connect.html", {"nav": "exchange", "form": form}, status=_status(form))


@login_required
def exchange_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_of(request.user, pk)
    return _detail(request, account)


def _detail(
    request: HttpRequest,
    account: object,
    *,
    replace: ReplaceKeyForm | None = None,
    ws: WsKeyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "trader/exchange_detail.html",
        {
            "nav": "exchange",
            "account": account,
            "routes": list(account.routes.order_by("name")),  # type: ignore[attr-defined]
            "replace_form": replace or ReplaceKeyForm(),
            "ws_form": ws or WsKeyForm(),
            "paper": _paper_view(account) if account.mode == ExchangeAccount.Mode.PAPER else None,  # type: ignore[attr-defined]
        },
        status=status,
    )


@login_required
@require_POST
def exchange_replace(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_of(request.user, pk)
    form = ReplaceKeyForm(request.POST)
    if form.is_valid():
        try:
            account = keys.replace_key(
                account=account,
                api_key=form.cleaned_data["api_key"],
                api_secret=form.cleaned_data["api_secret"],
                now=timezone.now(),
            )
        except keys.KeyRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Key replaced; the new key ({account.key_fingerprint}) is used from the next alert on."
            )
            return redirect("exchange_detail", pk=account.pk)
    return _detail(request, account, replace=form, status=400)


@login_required
@require_POST
def exchange_ws_key(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_of(request.user, pk)
    form = WsKeyForm(request.POST)
    if form.is_valid():
        try:
            account = keys.connect_ws_key(
                account=account,
                api_key=form.cleaned_data["ws_api_key"],
                api_secret=form.cleaned_data["ws_api_secret"],
                now=timezone.now(),
            )
        except keys.KeyRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"WebSocket key stored ({account.ws_key_fingerprint}).")
            return redirect("exchange_detail", pk=account.pk)
    return _detail(request, account, ws=form, status=400)


@login_required
@require_POST
def exchange_remove(request: HttpRequest, pk: int) -> HttpResponse:
    account = selectors.account_of(request.user, pk)
    try:
        done = keys.remove_account(account)
    except keys.AccountInUse as exc:
        messages.error(
            request,
            "Routes still use this account (" + ", ".join(exc.routes) + "). Point them at another account or "
            "flatten them first; nothing was removed.",
        )
        return redirect("exchange_detail", pk=account.pk)
    if done == "deleted":
        messages.success(request, f"“{account.label}” was removed.")
    else:
        messages.success(
            request,
            f"The key of “{account.label}” was erased. The account stays listed as disconnected because its orders, "
            "fills and fees are part of your records.",
        )
    return redirect("exchange_list")


def _paper_view(account: ExchangeAccount) -> dict[str, object]:
    """The paper account's balance and positions as its adapter reports them (marks can be unreadable: say so)."""
    try:
        exchange = exchange_for(account)
        return {"summary": exchange.account(), "positions": exchange.positions()}
    except (ExchangeError, CredentialsUnreadable):
        return {"error": "The balance cannot be read right now (mark prices unavailable); try again shortly."}


def _status(form: object) -> int:
    return 400 if getattr(form, "is_bound", False) and (form.errors or form.non_field_errors()) else 200  # type: ignore[attr-defined]
