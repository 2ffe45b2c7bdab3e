"""Paper accounts: create one (free, no key), fund it, reset it - through `exchanges.paper.service`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import ExchangeAccount
from exchanges.errors import ExchangeError
from exchanges.paper import service
from trader import selectors
from trader.forms import PaperCreateForm, PaperFundForm


@login_required
@require_POST
def paper_create(request: HttpRequest) -> HttpResponse:
    form = PaperCreateForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Nothing was created: " + " ".join(e for errors in form.errors.values() for e in errors)
        )
        return redirect("exchange_list")
    try:
        account = service.create_paper_account(
            request.user,
            label=form.cleaned_data["label"] or "Paper trading",
            starting_balance=form.cleaned_data["starting_balance"],
        )
    except service.PaperRefused as exc:
        messages.error(request, f"Nothing was created: {exc}")
        return redirect("exchange_list")
    balance = form.cleaned_data["starting_balance"] or service.default_starting_balance()
    messages.success(
        request,
        f"Paper account “{account.label}” created with {balance:,} USD of play money. Orders fill at Kraken's real "
        "mark prices; nothing reaches the exchange.",
    )
    return redirect("exchange_detail", pk=account.pk)


def _paper_account(request: HttpRequest, pk: int) -> ExchangeAccount | None:
    account = selectors.account_of(request.user, pk)  # 404 for anyone else's
    if account.mode != ExchangeAccount.Mode.PAPER:
        messages.error(request, "Only paper accounts can be funded or reset.")
        return None
    return account


@login_required
@require_POST
def paper_fund(request: HttpRequest, pk: int) -> HttpResponse:
    account = _paper_account(request, pk)
    if account is None:
        return redirect("exchange_detail", pk=pk)
    form = PaperFundForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not funded: " + " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("exchange_detail", pk=pk)
    try:
        balance = service.fund_paper_account(account, form.cleaned_data["amount"])
    except service.PaperRefused as exc:
        messages.error(request, f"Not funded: {exc}")
    else:
        messages.success(request, f"Added {form.cleaned_data['amount']:,} USD. Collateral is now {balance:,.2f} USD.")
    return redirect("exchange_detail", pk=pk)


@login_required
@require_POST
def paper_reset(request: HttpRequest, pk: int) -> HttpResponse:
    account = _paper_account(request, pk)
    if account is None:
        return redirect("exchange_detail", pk=pk)
    try:
        report = service.reset_paper_account(account)
    except service.PaperRefused as exc:
        messages.error(request, str(exc))
    except ExchangeError:
        messages.error(request, "The paper account was not reset: mark prices could not be read. Try again shortly.")
    else:
        closed = ", ".join(f"{c.symbol} {c.size:+} at {c.price}" for c in report.closed) or "no positions"
        messages.success(
            request,
            f"Paper account reset: {report.cancelled_orders} order(s) cancelled, closed {closed}; collateral back to "
            f"{report.balance:,.2f} USD.",
        )
    return redirect("exchange_detail", pk=pk)
