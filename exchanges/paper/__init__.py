"""Paper trading: a simulated Kraken Futures account persisted in the database, on the simulation engine, filled
against the venue's real public mark prices - behind the same ``Exchange`` protocol as the live adapter, so a paper
route runs the very same pipeline, risk checks, worst-case stop and reconciliation.

* ``market`` - public instruments and tickers, cached briefly per process (no key: public endpoints only);
* ``models`` - the book's snapshot (``PaperAccount``) and its append-only history (orders, fills, account log);
* ``book`` - one locked transaction per operation: load, apply marks (stops trigger), act, archive, save;
* ``adapter`` - ``PaperExchange``, the protocol over the book;
* ``service`` - create, fund and reset a paper account (what the web pages call);
* ``tasks`` - the periodic touch that makes resting stops trigger when nothing else touches the account.

``exchanges.connect.exchange_for`` hands out the paper adapter for every ``mode == paper`` account.
"""
