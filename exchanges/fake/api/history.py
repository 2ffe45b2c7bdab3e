"""History (``/api/history/v2|v3``): account log (JSON and CSV), executions, orders, triggers, positions."""

from __future__ import annotations

from typing import Any

from exchanges.fake import history as records
from exchanges.fake.api.endpoints import Call
from exchanges.fake.api.envelope import Reply
from exchanges.fake.api.venue import Area


class HistoryApi(Area):
    def _history_params(self, call: Call) -> dict[str, str | None]:
        return {name: call.request.one(name) for name in call.request.params}

    def account_log(self, call: Call) -> Reply:
        return Reply.json(records.account_log(self.engine, call.account_id, self._history_params(call)))

    def account_log_csv(self, call: Call) -> Reply:
        body = records.account_log_csv(self.engine, call.account_id)
        return Reply(status=200, body=body.encode(), content_type="text/csv")

    def history_executions(self, call: Call) -> Reply:
        body, token = records.executions(self.engine, call.account_id, self._history_params(call), call.now)
        return _history_reply(body, token)

    def history_orders(self, call: Call) -> Reply:
        params = self._history_params(call)
        body, token = records.order_events(self.engine, call.account_id, params, call.now, triggers=False)
        return _history_reply(body, token)

    def history_triggers(self, call: Call) -> Reply:
        params = self._history_params(call)
        body, token = records.order_events(self.engine, call.account_id, params, call.now, triggers=True)
        return _history_reply(body, token)

    def history_positions(self, call: Call) -> Reply:
        body, token = records.positions(self.engine, call.account_id, self._history_params(call), call.now)
        return _history_reply(body, token)


def _history_reply(body: dict[str, Any], token: str | None) -> Reply:
    headers = {"Next-Continuation-Token": token} if token else {}
    return Reply.json(body, headers=headers)
