from __future__ import annotations

import os

os.environ.setdefault("ORDERRAIL_TESTING", "1")
