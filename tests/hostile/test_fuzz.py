"""atheris (libFuzzer, coverage-guided) on the payload parser and the redaction rule, briefly: 20,000 runs in a
process of its own (`HOSTILE=long`: 10 minutes). A crash fails the test and leaves the input in the temp dir."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.hostile.conftest import LONG
from tests.stack import ROOT

pytestmark = pytest.mark.slow


def test_the_fuzzer_finds_no_crash(tmp_path):
    budget = ["-max_total_time=600"] if LONG else ["-runs=20000", "-max_total_time=60"]
    result = subprocess.run(
        [sys.executable, "tests/hostile/fuzz_intake.py", *budget, f"-artifact_prefix={tmp_path}/", "-seed=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900 if LONG else 180,
        check=False,
    )
    tail = "\n".join(result.stderr.splitlines()[-30:])
    assert result.returncode == 0, tail
    assert "Done" in result.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
