"""The API-key check (``/api/auth/v1/api-keys/v3/check``): who the key belongs to and what it may do."""

from __future__ import annotations

from exchanges.fake.api.endpoints import Call
from exchanges.fake.api.envelope import Reply
from exchanges.fake.api.venue import Area
from exchanges.fake.wire import iso


class KeyCheckApi(Area):
    def api_key_check(self, call: Call) -> Reply:
        key = call.api_key
        assert key is not None
        return Reply.json(
            {
                "apiKey": key.key,
                "accountUid": key.account_id,
                "iiban": "AA00 FAKE KRKN 0001",
                "createdAt": iso(self.venue.key_created.get(key.key, call.now)),
                "permissions": {
                    "general": key.permission.wire,
                    "transfer": "FULL_ACCESS" if key.withdrawal else "NO_ACCESS",
                },
            }
        )
