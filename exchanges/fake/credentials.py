"""Credentials the tests (and local runs) give the fake, importable by name from anywhere.

Shaped like real Kraken Futures keys: a 56-character public key and a secret of 64 random-looking bytes in base64
(88 characters with padding). Worthless anywhere but the fake.
"""

from __future__ import annotations

FAKE_KEY = "FakeKrakenPublicKey0OrderRail0Tests0NotReal0000000000001"
FAKE_SECRET = "yRseLCAQ/0ZJIOvHinAMUiJnoyn+1P2amePsORuyEKXeVQbS/pk/a5b1ZxXqRCa8iaIuKLMUySTyr9QaIUgDPA=="
# A second, read-only key, for permission tests.
FAKE_READ_ONLY_KEY = "FakeKrakenPublicKey0OrderRail0Tests0ReadOnly000000000002"
FAKE_READ_ONLY_SECRET = "cmVhZC1vbmx5IGtleSBvZiB0aGUgZmFrZSBrcmFrZW4gZnV0dXJlcyBzZXJ2ZXIgdXNlZCBieSB0ZXN0cyAhIQ=="
# The same account's Kraken (Spot-style) key, which the Unified WebSocket takes its tokens with.
FAKE_SPOT_KEY = "FakeKrakenSpotKey0OrderRail0Tests0Unified0WebSocket0000001"
FAKE_SPOT_SECRET = "dW5pZmllZCB3ZWJzb2NrZXQgdGVzdCBrZXkgb2YgdGhlIGZha2Uga3Jha2VuLCB3b3J0aGxlc3MgZWxzZXdoZXJlIQ=="
