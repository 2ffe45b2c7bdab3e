"""Loaded by pytest before Django is set up (`-p tests.environment` in pyproject.toml): the suite's processes run
with DEBUG off, like production, and get explicit test keys here - nothing in the settings relaxes a check for
tests."""

from __future__ import annotations

from tests.stack import use_test_environment

use_test_environment()
