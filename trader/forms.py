"""Forms of the trader's pages. Each field says in one sentence what it does; each bad value gets a message that
says what to type instead. Secrets are never rendered back into a form, not even after an error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import ExchangeAccount, User
from routing import instruments, route_changes
from routing.models import Route
from routing.symbols import normalise_symbol


class KeyInput(forms.TextInput):
    """A text box that never puts a submitted key back into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class SecretInput(forms.PasswordInput):
    def __init__(self) -> None:
        super().__init__(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"})


class ConnectKeyForm(forms.Form):
    label = forms.CharField(
        max_length=80,
        initial="Kraken Futures",
        help_text="A name for this account, e.g. “Main” or “Sub-account 2”. Only you see it.",
    )
    api_key = forms.CharField(
        label="API key (public key)",
        max_length=200,
        widget=KeyInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
        help_text="From Kraken Futures → Settings → API keys. It must have trading access and no withdrawals.",
    )
    api_secret = forms.CharField(
        label="Private key (secret)",
        max_length=400,
        widget=SecretInput(),
        help_text="Shown by Kraken once when you create the key. Stored encrypted; OrderRail never shows it again.",
    )


class ReplaceKeyForm(forms.Form):
    api_key = ConnectKeyForm.base_fields["api_key"]
    api_secret = ConnectKeyForm.base_fields["api_secret"]


class WsKeyForm(forms.Form):
    ws_api_key = forms.CharField(
        label="Kraken API key for the Unified WebSocket",
        max_length=200,
        widget=KeyInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}),
        help_text="A Kraken (not Futures) API key with WebSocket, query and trading permissions and no withdrawals. "
        "Kraken's new interface, which replaces the Futures REST API on 1 March 2027, signs with it.",
    )
    ws_api_secret = forms.CharField(label="Its private key", max_length=400, widget=SecretInput())


# -- routes ------------------------------------------------------------------------------------------------------

ROUTE_HELP = {
    "name": "A name you will recognise in lists and e-mails, e.g. the strategy and its timeframe.",
    "exchange_account": "Where this route's orders go. A paper account simulates fills at real prices, for free.",
    "symbol": "The Kraken Futures perpetual this route trades.",
    "tv_alias": "What TradingView's {{ticker}} says on your chart, e.g. XBTUSD.P. When set, the message carries it and "
    "alerts from another chart are skipped; leave empty to not check.",
    "sizing_mode": "Target (recommended): each alert brings your position to the strategy's position × multiplier, so "
    "a missed alert heals itself. Contracts: each order is the strategy's order size × multiplier. Fixed: the "
    "same size every alert.",
    "multiplier": "Scales the strategy's size to yours: 0.5 trades half of what the strategy says, 2 twice as much.",
    "fixed_size": "The size of every order, in the instrument's unit (XBT for PF_XBTUSD).",
    "side_policy": "Long only or short only skips anything that would add exposure on the other side; exits always go.",
    "max_order_size": "The largest order that adds exposure, in the instrument's unit; a bigger one is skipped.",
    "max_position": "The largest position this route may hold, long or short, in the instrument's unit.",
    "max_notional": "The largest position value in USD (size × mark price).",
    "max_leverage": "The largest position value as a multiple of the account's equity, e.g. 3.",
    "orders_per_hour": "Orders that add exposure beyond this many in the last hour are skipped.",
    "daily_loss_limit": "Once today's realised loss (UTC, fees included) reaches this many USD, new exposure is "
    "skipped; exits still go.",
    "max_alert_age_seconds": "An alert older than this when OrderRail decides is skipped: acting on a late signal is "
    "worse than not acting.",
    "future_skew_seconds": "How many seconds an alert's time may be ahead of OrderRail's clock.",
    "price_deviation_pct": "Skip when the alert's price ({{close}}) is further than this from the mark price, in "
    "percent. The message then carries the price.",
    "worst_case_stop_pct": "A reduce-only stop rests this far from your entry, in percent, for every open position: "
    "a safety net if the strategy never exits. Empty means none.",
    "email_alerts": "E-mail me when an order is rejected, a position drifts, the worst-case stop fails or the key "
    "stops working (once per incident).",
}

POSITIVE = (
    "multiplier",
    "fixed_size",
    "max_order_size",
    "max_position",
    "max_notional",
    "max_leverage",
    "daily_loss_limit",
)
PERCENT = ("price_deviation_pct", "worst_case_stop_pct")


class RouteForm(forms.ModelForm):
    symbol = forms.ChoiceField(label="Instrument", help_text=ROUTE_HELP["symbol"])

    class Meta:
        model = Route
        fields = list(route_changes.SETTINGS)  # one list: what a trader edits is what the history names
        labels = {
            "tv_alias": "TradingView ticker",
            "exchange_account": "Exchange account",
            "max_position": "Max position size",
            "max_notional": "Max position value (USD)",
            "daily_loss_limit": "Daily loss limit (USD)",
            "max_alert_age_seconds": "Max alert age (seconds)",
            "future_skew_seconds": "Clock tolerance (seconds)",
            "price_deviation_pct": "Max price deviation (%)",
            "worst_case_stop_pct": "Worst-case stop distance (%)",
            "side_policy": "Sides",
            "email_alerts": "E-mail me about problems",
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        accounts = ExchangeAccount.objects.filter(owner=owner, connected=True).order_by("created_at", "pk")
        account_field = self.fields["exchange_account"]
        account_field.queryset = accounts  # type: ignore[attr-defined]
        account_field.label_from_instance = _account_label  # type: ignore[attr-defined]
        account_field.required = True
        account_field.empty_label = None  # type: ignore[attr-defined]
        for name, field in self.fields.items():
            field.help_text = ROUTE_HELP.get(name, field.help_text)
        self.fields["name"].error_messages["required"] = "Give the route a name."
        self.fields["symbol"].error_messages["required"] = "Pick the instrument this route trades."
        account_field.error_messages["required"] = "Pick the exchange account the orders go to."
        for name in (*POSITIVE, *PERCENT):
            # A text box, not <input type=number>: a number box with a 1e-12 step spins by 0.000000000001 and some
            # browsers silently drop what they cannot parse; the server says what is wrong instead.
            self.fields[name].widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        self.instruments_error = ""
        self.fields["symbol"].choices = self._symbol_choices(accounts)

    def _symbol_choices(self, accounts: Any) -> list[tuple[str, str]]:
        account = self._chosen_account(accounts)
        current = self.instance.symbol if self.instance.pk else ""
        if account is None:
            return [(current, current)] if current else []
        try:
            listed = [(c.symbol, c.label) for c in instruments.choices_for(account)]
        except instruments.InstrumentsUnavailable as exc:
            self.instruments_error = str(exc)
            listed = []
        if current and current not in {s for s, _ in listed}:
            listed.insert(0, (current, current))
        return listed

    def _chosen_account(self, accounts: Any) -> ExchangeAccount | None:
        raw = self.data.get("exchange_account") if self.is_bound else self.initial.get("exchange_account")
        if raw is None and self.instance.pk:
            raw = self.instance.exchange_account_id
        chosen = accounts.filter(pk=raw).first() if str(raw or "").isdigit() or isinstance(raw, int) else None
        return chosen or accounts.first()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the route a name.")
        return name

    def clean_tv_alias(self) -> str:
        raw = self.cleaned_data.get("tv_alias", "").strip()
        if raw and normalise_symbol(raw) is None:
            raise ValidationError("Use the ticker as TradingView shows it: letters, digits and . _ - : / only.")
        return raw

    def clean_orders_per_hour(self) -> int | None:
        value = self.cleaned_data.get("orders_per_hour")
        if value is not None and value < 1:
            raise ValidationError("At least 1, or leave it empty for no limit (0 would skip every order).")
        return value

    def clean_max_alert_age_seconds(self) -> int:
        value = self.cleaned_data["max_alert_age_seconds"]
        if not 1 <= value <= 86400:
            raise ValidationError("Between 1 and 86400 seconds (a day). 60 is a good start.")
        return value

    def clean_future_skew_seconds(self) -> int:
        value = self.cleaned_data["future_skew_seconds"]
        if value > 300:
            raise ValidationError(
                "At most 300 seconds; clocks more than that apart are a problem to fix, not tolerate."
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in POSITIVE:
            value = data.get(name)
            if value is not None and value <= 0:
                self.add_error(name, "Must be greater than 0 (leave it empty for no limit).")
        for name in PERCENT:
            value = data.get(name)
            if value is not None and not (Decimal(0) < value < Decimal(100)):
                self.add_error(name, "A percentage above 0 and below 100 (leave it empty for none).")
        if data.get("sizing_mode") == "fixed" and not data.get("fixed_size"):
            self.add_error("fixed_size", "Fixed sizing needs a size for every order.")
        account = data.get("exchange_account")
        symbol = data.get("symbol")
        if account is not None and symbol:
            try:
                data["symbol"] = instruments.check_symbol(account, symbol)
            except instruments.InstrumentsUnavailable as exc:
                self.add_error("symbol", str(exc))
            except ValueError as exc:
                self.add_error("symbol", str(exc))
        if account is not None and data.get("symbol") and "symbol" not in self.errors:
            self._refuse_a_second_enabled_route(account, data["symbol"])
        if self.instance.pk and account is not None:
            self._refuse_moving_an_open_position(data)
        return data

    def _refuse_a_second_enabled_route(self, account: ExchangeAccount, symbol: str) -> None:
        # The database's conditional constraint decides in the end (a race gets the same message from the service);
        # Django skips it in form validation because `enabled` is not a field of this form.
        if not (self.instance.enabled if self.instance.pk else True):
            return
        clash = Route.objects.filter(exchange_account=account, symbol=symbol, enabled=True).exclude(pk=self.instance.pk)
        if clash.exists():
            self.add_error(None, route_changes.CONFLICT)

    def _refuse_moving_an_open_position(self, data: dict[str, Any]) -> None:
        from trader.selectors import positions_by_route

        moved = data.get("exchange_account") != self.instance.exchange_account or data.get("symbol") != (
            self.instance.symbol
        )
        if moved and positions_by_route([self.instance]).get(self.instance.pk):
            self.add_error(
                "symbol",
                "This route holds a position. Flatten it first, then change the account or instrument "
                "(otherwise the position would be left without its route and its stop).",
            )

    def _post_clean(self) -> None:
        # The route belongs to the signed-in trader before the model's own validation (the one-enabled-route
        # constraint) runs.
        self.instance.owner = self.owner
        super()._post_clean()


def _account_label(account: ExchangeAccount) -> str:
    if account.mode == ExchangeAccount.Mode.PAPER:
        return f"{account.label} — paper (free)"
    return f"{account.label} — live, key …{account.key_fingerprint}"


class SampleAlertForm(forms.Form):
    """The alert "test this route" evaluates: what TradingView would send, with `time` = now."""

    action = forms.ChoiceField(choices=[("buy", "buy"), ("sell", "sell"), ("close", "close (flatten)")])
    position = forms.DecimalField(
        required=False,
        max_digits=30,
        decimal_places=12,
        help_text="The strategy's signed position after the order ({{strategy.position_size}}), e.g. 0.01 or -0.01.",
    )
    contracts = forms.DecimalField(
        required=False,
        max_digits=30,
        decimal_places=12,
        min_value=Decimal(0),
        help_text="The strategy's order size ({{strategy.order.contracts}}).",
    )
    market_position = forms.ChoiceField(
        required=False,
        choices=[("", "–"), ("long", "long"), ("short", "short"), ("flat", "flat")],
        help_text="{{strategy.market_position}} after the order.",
    )
    price = forms.DecimalField(
        required=False,
        max_digits=30,
        decimal_places=12,
        min_value=Decimal(0),
        help_text="The alert's price ({{close}}); needed only when the route has a price guard.",
    )


class AlertFilterForm(forms.Form):
    outcome = forms.ChoiceField(required=False, choices=[("", "Any outcome")])
    reason = forms.ChoiceField(required=False, choices=[("", "Any reason")])
    route = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=[("", "All routes")])
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        from trader.selectors import OUTCOMES, reason_choices

        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [("", "Any outcome"), *OUTCOMES.items()]
        self.fields["reason"].choices = [("", "Any reason"), *reason_choices()]
        routes = Route.objects.filter(owner=owner).order_by("name").values_list("pk", "name")
        self.fields["route"].choices = [("", "All routes"), *((str(pk), name) for pk, name in routes)]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "“To” is before “From”.")
        return data


class PaperCreateForm(forms.Form):
    label = forms.CharField(max_length=80, required=False, initial="Paper trading")
    starting_balance = forms.DecimalField(
        required=False,
        max_digits=30,
        decimal_places=2,
        label="Starting balance (USD)",
        help_text="Play money to trade with; you can add more or reset later.",
    )


class PaperFundForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=30, decimal_places=2, label="Add (USD)", help_text="Play money added to the paper account."
    )
