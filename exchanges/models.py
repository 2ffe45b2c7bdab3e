"""The exchanges app's tables: only paper trading keeps state here (see ``exchanges.paper.models``)."""

from __future__ import annotations

from exchanges.paper.models import PaperAccount, PaperFill, PaperLedgerRow, PaperOrder

__all__ = ["PaperAccount", "PaperFill", "PaperLedgerRow", "PaperOrder"]
