"""dj-stripe's migrations, squashed (settings.MIGRATION_MODULES["djstripe"] points at .migrations).

dj-stripe 2.11 ships three migrations; the second (0002_2_10, 520 operations) costs about two minutes of CPU on
SQLite and PostgreSQL alike, on every fresh database: every test run, every first `make run`, every new install.
The one migration here builds the same schema in seconds (tests/billing/test_schema.py compares the two) and
`replaces` dj-stripe's three, so Django records those three as applied: a database built either way is the same to
Django, and this override can be dropped at any time, e.g. when upgrading dj-stripe - its next migration depends
on 0003_2_11, which is then already applied.
"""
