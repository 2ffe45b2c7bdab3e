"""The probe against the fake: every checkable assumption gets a verdict, nothing is ever placed, a key that can
withdraw is an ALERT."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from exchanges.fake.credentials import FAKE_KEY, FAKE_SPOT_KEY, FAKE_SPOT_SECRET
from exchanges.kraken.uws import probe


def run_probe(fake, uws, key=FAKE_SPOT_KEY, secret=FAKE_SPOT_SECRET):
    return probe.run(
        api_key=key,
        api_secret=secret,
        private_url=uws.private_url,
        public_url=uws.public_url,
        spot_rest_url=fake.url,
        timeout=2.0,
    )


def test_the_probe_checks_each_assumption_and_places_nothing(venue):
    fake, uws = venue
    findings = {f.assumption.split(" ")[0]: f for f in run_probe(fake, uws)}
    for name in (
        "key_info_path",
        "withdraw_permission_markers",
        "token_path",
        "sequence_field",
        "position_fields",
        "margin_fields",
        "private_connections_per_account",
        "instrument_fields",
        "ticker_fields",
        "order_qty_unit",
        "client_id_max_length",
        "reduce_only_field",
        "worst_case_stop_signal",
        "trigger_references",
        "cancel_not_found",
        "token_errors",
    ):
        assert name in findings, name
        assert findings[name].verdict == "holds", findings[name].line()
    assert findings["execution_fields"].verdict == "unknown"  # a fresh account has no trades to look at
    assert fake.engine.orders(fake.account_id(FAKE_KEY)) == []  # validate only: nothing reached the book
    assert fake.calls("sendorder") == 5


def test_a_key_that_can_withdraw_is_an_alert_and_the_command_says_so(venue, capsys):
    fake, uws = venue
    secret = "d2l0aGRyYXdpbmcta2V5LXNlY3JldC1mb3ItdGhlLXByb2JlLXRlc3QtMDEyMzQ1Njc4OQ=="
    uws.add_spot_key("probe-withdraw", secret, futures_key=FAKE_KEY, permissions=("withdraw-funds", "websocket-token"))
    with pytest.raises(CommandError, match="ALERT"):
        call_command(
            "kraken_uws_probe",
            "--key",
            "probe-withdraw",
            "--secret",
            secret,
            "--private-url",
            uws.private_url,
            "--public-url",
            uws.public_url,
            "--spot-url",
            fake.url,
            "--timeout",
            "2",
        )
    out = capsys.readouterr().out
    assert "[  ALERT] withdraw_permission_markers" in out
    assert "not checkable without trading:" in out
    assert secret not in out
