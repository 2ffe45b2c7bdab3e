"""A fake Kraken Futures REST server for tests and local runs: the simulation engine behind Kraken's wire format.

``from exchanges.fake.server import FakeKraken``; ``python manage.py fake_kraken --port N`` runs one on its own.
"""
