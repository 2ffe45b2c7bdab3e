"""Settings of the floor (bench/floor): a Django project of its own, not the product's, with nothing in it but one
view and the database.

No apps, no middleware, no templates, no logging beyond Django's defaults: what is left is the cost of Django's
request handling, the body, a JSON parse and one transaction on PostgreSQL - the least the webhook can cost. The
database and its settings are the product's (CONN_MAX_AGE, health checks), so the comparison is of the code only.
"""

from __future__ import annotations

import environ

env = environ.Env()

SECRET_KEY = "bench-floor-only-" + "x" * 40  # signs nothing: there are no sessions, cookies or forms here
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor.urls"
WSGI_APPLICATION = "bench.floor.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
