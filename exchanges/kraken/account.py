"""Private account data: ``openPositions``, ``accounts.flex``, account-log rows and the API-key check."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from exchanges.base import AccountSummary, KeyPermissions, LedgerEntry, Permission, Position
from exchanges.kraken import decoding as d
from exchanges.kraken.errors import MalformedResponse


def parse_positions(body: Mapping[str, Any]) -> list[Position]:
    # Pitfall 9: during incidents the key is missing entirely; that is "unknown", never "flat".
    rows = d.require_list(body, "openPositions", "openpositions")
    positions = []
    for index, row in enumerate(rows):
        where = f"openPositions[{index}]"
        side = str(d.require(row, "side", where)).lower()
        if side not in ("long", "short"):
            raise MalformedResponse(f"{where}: side {side!r} is neither long nor short")
        size = d.decimal_field(row, "size", where)
        positions.append(
            Position(
                symbol=d.symbol(d.require(row, "symbol", where), where),
                size=size if side == "long" else -size,  # Kraken sends size unsigned; side carries the sign
                average_price=d.decimal_field(row, "price", where),
            )
        )
    return positions


def parse_account(body: Mapping[str, Any]) -> AccountSummary:
    """The multi-collateral (flex) account, which is what PF_ contracts margin against.

    Equity is ``marginEquity`` (haircut collateral + unrealised P&L as margin), not ``portfolioValue`` (raw
    balance value + unrealised P&L): it is the figure Kraken measures margin against, and the smaller of the
    two whenever collateral carries a haircut, so leverage checks against it err on the safe side.
    """
    accounts = d.require_obj(body, "accounts", "accounts")
    flex = d.require_obj(accounts, "flex", "accounts")
    where = "accounts.flex"
    return AccountSummary(
        currency="USD",
        equity=d.decimal_field(flex, "marginEquity", where),
        available_margin=d.decimal_field(flex, "availableMargin", where),
        initial_margin=d.decimal_field(flex, "initialMargin", where),
        maintenance_margin=d.decimal_field(flex, "maintenanceMargin", where),
    )


def parse_ledger_entry(row: Mapping[str, Any], where: str) -> LedgerEntry:
    old_balance = d.optional_decimal(row, "old_balance", where)
    new_balance = d.optional_decimal(row, "new_balance", where)
    contract = d.optional_str(row, "contract")
    return LedgerEntry(
        entry_id=str(d.require(row, "id", where)),
        time=d.to_datetime(d.require(row, "date", where), f"{where}.date"),
        kind=str(d.require(row, "info", where)),
        symbol=contract.upper() if contract else None,
        asset=str(d.require(row, "asset", where)).upper(),
        # null on the position leg of a trade (the fee is on the cash leg); null means none, not unknown.
        fee=d.optional_decimal(row, "fee", where) or Decimal(0),
        realized_pnl=d.optional_decimal(row, "realized_pnl", where) or Decimal(0),
        realized_funding=d.optional_decimal(row, "realized_funding", where) or Decimal(0),
        execution_id=d.optional_str(row, "execution"),
        trade_price=d.optional_decimal(row, "trade_price", where),
        balance_change=(new_balance - old_balance)
        if old_balance is not None and new_balance is not None
        else Decimal(0),
    )


_GENERAL = {"NO_ACCESS": Permission.NONE, "READ_ONLY": Permission.READ_ONLY, "FULL_ACCESS": Permission.FULL}


def parse_key_check(body: Mapping[str, Any]) -> KeyPermissions:
    permissions = d.require_obj(body, "permissions", "api-keys/v3/check")
    general = permissions.get("general")
    if general not in _GENERAL:
        raise MalformedResponse(f"api key check: unknown general permission {general!r}")
    # Anything but an explicit NO_ACCESS is treated as able to withdraw: we refuse such keys, so an unknown
    # word must err towards refusing.
    transfer = permissions.get("transfer", permissions.get("withdrawal"))
    return KeyPermissions(
        general=_GENERAL[str(general)],
        withdrawal=transfer != "NO_ACCESS",
        account_uid=str(body.get("accountUid") or ""),
    )
