"""OrderRail settings, read from the environment (django-environ).

Safe by default: DEBUG off unless asked for, SQLite when no DATABASE_URL is given, Kraken's base URL pointing at the
local fake unless production sets it. FERNET_KEYS is separate from SECRET_KEY so that rotating one never makes
stored exchange keys unreadable.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# A development key is only acceptable while DEBUG is on (make run); everything else - production, and the test
# suite's own processes, which get explicit test keys from tests/conftest.py - must set SECRET_KEY. No environment
# flag switches this check off.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-secret-key-not-for-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "rest_framework",
    "django_q",
    "djstripe",
    "accounts",
    "exchanges",
    "routing",
    "audit",
    "billing",
    "support",
    "trader",
    "orderrail",  # the project's own commands: `manage.py worker`
]
# "Or continue with": social providers are off unless named here (allauth provider ids, e.g. "google,github"),
# each with SOCIAL_<ID>_CLIENT_ID and SOCIAL_<ID>_SECRET in the environment.
SOCIAL_PROVIDERS = env.list("SOCIAL_PROVIDERS", default=[])
INSTALLED_APPS += [f"allauth.socialaccount.providers.{provider}" for provider in SOCIAL_PROVIDERS]
SOCIALACCOUNT_PROVIDERS = {
    provider: {
        "APPS": [
            {
                "client_id": env.str(f"SOCIAL_{provider.upper()}_CLIENT_ID", default=""),
                "secret": env.str(f"SOCIAL_{provider.upper()}_SECRET", default=""),
            }
        ]
    }
    for provider in SOCIAL_PROVIDERS
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.admin_mfa.AdminRequiresMFA",
]

ROOT_URLCONF = "orderrail.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trader.context.site",
                "billing.context.access_banner",
            ],
        },
    },
]

WSGI_APPLICATION = "orderrail.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=600))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Server-side binding: psycopg sends the parameters apart from the statement and prepares a statement a connection
# runs again and again (the fifth time), so PostgreSQL parses and plans the hot path's statements once per
# connection instead of once per alert. Off (DB_SERVER_SIDE_BINDING=0) behind a transaction-mode PgBouncer.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DB_SERVER_SIDE_BINDING", default=True
):
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file under make run: wait for the lock instead of
    # failing, and take the write lock at BEGIN so two writers never deadlock on an upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not :memory:, so the worker and web processes that end-to-end tests start can share the test DB;
    # one per test run (pid), so two runs side by side never share it; in the temp directory, never in the tree.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"orderrail-test-{os.getpid()}.sqlite3")}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # a link scanner opening the mail must not verify the address; a button does
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# A session ends when the browser closes: no "remember me" on an account that can place orders.
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "OrderRail: "
# Login and sign-up are throttled in the cache every process shares (see CACHES): per IP and per e-mail address.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}
# The webhook URL shown to traders; by default the address the page was requested on. TradingView accepts only
# ports 80 and 443, so production sets its public https origin here.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# Two-factor authentication: an authenticator app (TOTP) and single-use recovery codes. The TOTP seed is stored
# encrypted under FERNET_KEYS (trader.auth.MFAAdapter), like exchange keys.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_ADAPTER = "trader.auth.MFAAdapter"
MFA_TOTP_ISSUER = "OrderRail"
# Staff open the admin only with two-factor authentication on (accounts/admin_mfa.py); on unless developing.
ADMIN_REQUIRE_MFA = env.bool(
    "ADMIN_REQUIRE_MFA", default=not DEBUG and not env.bool("ORDERRAIL_TESTING", default=False)
)
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# For django.core.mail.backends.filebased.EmailBackend (the browser tests read the verification mail from here).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(Path(tempfile.gettempdir()) / "orderrail-mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="OrderRail <no-reply@localhost>")

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Exchange API keys are encrypted under these keys, never under SECRET_KEY (django-fernet-fields falls back to
# SECRET_KEY when FERNET_KEYS is missing, and rotating SECRET_KEY would then lose every stored key).
FERNET_KEYS = env.list("FERNET_KEYS", default=[])
if not FERNET_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FERNET_KEYS must be set when DEBUG is off")
    FERNET_KEYS = ["dev-only-fernet-key-not-for-production"]

# Where the Kraken Futures adapter sends requests. Production: https://futures.kraken.com. Only development (DEBUG,
# make run) falls back to the local fake: a production install without the setting must not trade against nothing.
KRAKEN_FUTURES_URL = env.str("KRAKEN_FUTURES_URL", default="http://127.0.0.1:8765" if DEBUG else "")
if not KRAKEN_FUTURES_URL:
    raise ImproperlyConfigured("KRAKEN_FUTURES_URL must be set when DEBUG is off (https://futures.kraken.com)")
KRAKEN_CONNECT_TIMEOUT = env.float("KRAKEN_CONNECT_TIMEOUT", default=3.05)
KRAKEN_READ_TIMEOUT = env.float("KRAKEN_READ_TIMEOUT", default=10.0)
# The Unified WebSocket transport, for accounts whose transport is "uws" (Kraken replaces REST v3 with it on
# 1 March 2027). Production: wss://uws.kraken.com/v2/private, wss://uws.kraken.com/v2/public, https://api.kraken.com
# (exchanges/kraken/uws/assumptions.py). The defaults are the local fake's, like KRAKEN_FUTURES_URL's.
KRAKEN_UWS_PRIVATE_URL = env.str("KRAKEN_UWS_PRIVATE_URL", default="ws://127.0.0.1:8766/v2/private")
KRAKEN_UWS_PUBLIC_URL = env.str("KRAKEN_UWS_PUBLIC_URL", default="ws://127.0.0.1:8766/v2/public")
KRAKEN_SPOT_URL = env.str("KRAKEN_SPOT_URL", default="http://127.0.0.1:8765")  # GetWebSocketsToken, GetApiKeyInfo
# How long an order intent waits for its acknowledgement, and a read for the streams' snapshots.
KRAKEN_UWS_ACK_TIMEOUT = env.float("KRAKEN_UWS_ACK_TIMEOUT", default=5.0)
KRAKEN_UWS_READY_TIMEOUT = env.float("KRAKEN_UWS_READY_TIMEOUT", default=5.0)
# Paper accounts fill at the venue's public mark prices (no key), read at most this often per worker process, and
# a new paper account starts with this much USD collateral unless its owner chooses another amount.
PAPER_MARK_TTL_SECONDS = env.float("PAPER_MARK_TTL_SECONDS", default=2.0)
PAPER_STARTING_BALANCE = env.str("PAPER_STARTING_BALANCE", default="10000")
# An order with no trace on the exchange this long after its last attempt is taken as never arrived (and sent
# once more with the same client order id). Must exceed connect + read timeout; checked below.
ORDER_LOOKUP_WINDOW_SECONDS = env.float("ORDER_LOOKUP_WINDOW_SECONDS", default=30.0)
if ORDER_LOOKUP_WINDOW_SECONDS <= KRAKEN_CONNECT_TIMEOUT + KRAKEN_READ_TIMEOUT:
    raise ImproperlyConfigured("ORDER_LOOKUP_WINDOW_SECONDS must exceed KRAKEN_CONNECT_TIMEOUT + KRAKEN_READ_TIMEOUT")
# Every order attempt carries a deadline (Kraken's processBefore) this far after it is sent: the exchange refuses to
# act on it later. "No trace" is only conclusive once the deadline has passed (plus a margin for clock skew), and
# the one re-send comes after the lookup window - so a delayed first attempt can never land after its re-send. This
# holds on every transport: the Unified WebSocket's `deadline` is the same value.
ORDER_DEADLINE_SECONDS = env.float("ORDER_DEADLINE_SECONDS", default=10.0)
CLOCK_SKEW_SECONDS = env.float("CLOCK_SKEW_SECONDS", default=5.0)
if ORDER_LOOKUP_WINDOW_SECONDS <= ORDER_DEADLINE_SECONDS + CLOCK_SKEW_SECONDS:
    raise ImproperlyConfigured("ORDER_LOOKUP_WINDOW_SECONDS must exceed ORDER_DEADLINE_SECONDS + CLOCK_SKEW_SECONDS")
# Client order ids start with this, so two installations trading one exchange account never adopt each other's
# orders (see routing/orders.py for why the rest of the id is random).
ORDER_ID_PREFIX = env.str("ORDER_ID_PREFIX", default="or")
if not re.fullmatch(r"[A-Za-z0-9]{1,6}", ORDER_ID_PREFIX):
    raise ImproperlyConfigured("ORDER_ID_PREFIX must be 1-6 letters and digits (client order ids are 18 characters)")
# Every account is reconciled at least this often (minutes), and at once when it has orders in flight or the engine
# starts.
RECONCILE_EVERY_MINUTES = env.int("RECONCILE_EVERY_MINUTES", default=1)
# The engine (`manage.py engine`, routing/engine.py): threads overlapping exchange round trips across routes (each
# holds one database connection), how many of them background work may never take, how often it looks for work
# without a notification (PostgreSQL's NOTIFY wakes it at once), how often it looks for due accounts and for
# alerts whose worker died.
ENGINE_THREADS = env.int("ENGINE_THREADS", default=16)
ENGINE_ALERT_RESERVE = env.int("ENGINE_ALERT_RESERVE", default=4)
ENGINE_POLL_SECONDS = env.float("ENGINE_POLL_SECONDS", default=0.05)
ENGINE_BACKGROUND_SECONDS = env.float("ENGINE_BACKGROUND_SECONDS", default=1.0)
ENGINE_SWEEP_SECONDS = env.float("ENGINE_SWEEP_SECONDS", default=5.0)
# On SIGTERM the engine takes no new work and lets jobs under way finish for at most this long (keep it below the
# supervisor's stop timeout: systemd's default is 90 s).
ENGINE_STOP_GRACE_SECONDS = env.float("ENGINE_STOP_GRACE_SECONDS", default=20.0)
# The engine's CPU priority (nice increment) on a host it shares with the webhook: an alert not acked within
# TradingView's 3 s is lost for good, one decided a second later is not, so at bar close the acks go first.
# 0 where the engine has a host of its own.
ENGINE_NICE = env.int("ENGINE_NICE", default=10)
# A route's processing lease; a worker that dies holding it blocks the route for at most this long.
ROUTE_LEASE_SECONDS = env.int("ROUTE_LEASE_SECONDS", default=60)
# A queued alert nobody has picked up for this long is re-driven by the sweeper.
SWEEP_STUCK_SECONDS = env.int("SWEEP_STUCK_SECONDS", default=30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# django-q2 on the ORM broker of the default database: storing an alert and enqueueing its task commit together.
# retry is far above timeout so a slow task is never handed to a second worker while the first still runs.
Q_CLUSTER = {
    "name": "orderrail",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 180,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    # Successes are not stored: the Alert and its Decision are the record. Failures still are.
    "save_limit": -1,
    "queue_limit": 8,
    # django-q2 replaces a worker after 500 tasks by default: at a few hundred alerts a second that is a new
    # process every few seconds, each starting cold (no kept-alive exchange sessions, no instrument cache) and each
    # enqueueing its own start-up reconciliation. Recycle on memory instead (max_rss is in KiB, peak RSS), with a
    # task count high enough never to be the reason.
    "recycle": env.int("Q_RECYCLE", default=100_000),
    "max_rss": env.int("Q_MAX_RSS_KIB", default=512 * 1024),
    "poll": env.float("Q_POLL", default=0.05),
    # Tasks the pusher claims per poll of the ORM queue: one SELECT (and one connection check) for up to four
    # tasks instead of one each; each is still locked by its own conditional UPDATE. Measured: pusher CPU per
    # alert 4.1 -> 2.3 ms. Order and per-route sequencing are unchanged (the route lease decides those).
    "bulk": env.int("Q_BULK", default=4),
    "sync": env.bool("Q_SYNC", default=False),
}

# `manage.py worker` (orderrail/cluster.py): on SIGTERM a worker finishes the task in hand for at most this long,
# then is killed (the task is recovered: the order looked up, the alert re-driven by the sweeper).
WORKER_STOP_GRACE_SECONDS = env.float("WORKER_STOP_GRACE_SECONDS", default=4.0)

SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

# --- Production shape (issue 10): one block, so the settings other work touches stay apart -------------------------
TESTING = env.bool("ORDERRAIL_TESTING", default=False)

# HTTPS behind a TLS-terminating proxy. `check --deploy --fail-level WARNING` passes with the defaults plus
# SECURE_HSTS_PRELOAD=1 (a commitment to browsers' preload list, so an explicit choice). The test stacks speak plain
# HTTP on loopback, hence no redirect while testing.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not TESTING)
# Rotating SECRET_KEY (README): the previous key stays valid for signatures (sessions, reset links) for a while.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Every response carries it (ops.csp). Pages load scripts, styles, images and fonts from our own origin only: no
# inline <script>, no style="", no on*= handlers, no CDN.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'",
)

# Apps and middleware of this block, added here rather than in the lists above so they read as one piece:
# /healthz answers first (before the HTTPS redirect and the Host check, so a load balancer can probe over plain
# HTTP by IP); the client IP is settled before anything reads it; password-hashing POSTs are bounded per process
# (ops.login_gate: LOGIN_CONCURRENCY at a time, under PASSWORD_POST_PREFIXES); whitenoise serves /static/ right after
# SecurityMiddleware, as its documentation asks; the CSP header is set on every response.
INSTALLED_APPS.append("ops")
MIDDLEWARE.insert(0, "ops.healthz.HealthzMiddleware")
MIDDLEWARE.insert(1, "ops.client_ip.ClientIPMiddleware")
MIDDLEWARE.insert(2, "ops.login_gate.LoginConcurrencyMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
MIDDLEWARE.append("ops.csp.ContentSecurityPolicyMiddleware")

# The webhook pool (gunicorn.conf.py, GUNICORN_POOL=webhook) serves /hooks/ and /healthz only: no pages, no
# sessions, no logins. Its middleware is what the webhook uses - the health probe, the client IP, the security
# headers and the Host check, the CSP - and nothing that reads a session or a cookie (a tenth of an alert's CPU in
# the web process went to middleware the webhook never used). Any other URL is a 404 there.
WEBHOOK_POOL = env.str("GUNICORN_POOL", default="all") == "webhook"
if WEBHOOK_POOL:
    ROOT_URLCONF = "orderrail.webhook_urls"
    MIDDLEWARE = [
        m
        for m in MIDDLEWARE
        if m
        in (
            "ops.healthz.HealthzMiddleware",
            "ops.client_ip.ClientIPMiddleware",
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
            "allauth.account.middleware.AccountMiddleware",  # allauth refuses to start without it (cheap)
            "ops.csp.ContentSecurityPolicyMiddleware",
        )
    ]

LOGIN_CONCURRENCY = env.int("LOGIN_CONCURRENCY", default=2)
PASSWORD_POST_PREFIXES = ["/accounts/", "/admin/login/"]

# Static files: collected (`manage.py collectstatic`) and served by the app itself through whitenoise, compressed
# and with hashed names (cached forever by browsers) in production; straight from the apps while developing/testing.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
STATIC_ROOT = env.str("STATIC_ROOT", default=str(STATIC_ROOT))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# The client's address, behind a proxy: taken only from the header the proxy sets (CLIENT_IP_HEADER, e.g.
# X-Real-IP) or, with X-Forwarded-For, the entry TRUSTED_PROXY_COUNT hops from the right (the one our own proxies
# added; what the client wrote further left is ignored). Nothing configured: the TCP peer. allauth's login throttle
# reads the same (its own settings, set from ours).
CLIENT_IP_HEADER = env.str("CLIENT_IP_HEADER", default="")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = CLIENT_IP_HEADER or None
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# TradingView as the only sender, optionally: its four documented source addresses, and its client certificate
# (Subject O=TradingView, Inc., CN=TradingView Webhooks) when the TLS terminator verifies it and forwards it.
TRADINGVIEW_IP_ALLOWLIST = env.bool("TRADINGVIEW_IP_ALLOWLIST", default=False)
TRADINGVIEW_IPS = env.list("TRADINGVIEW_IPS", default=["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"])
TRADINGVIEW_CLIENT_CERT = env.bool("TRADINGVIEW_CLIENT_CERT", default=False)
TRADINGVIEW_CLIENT_CERT_HEADER = env.str("TRADINGVIEW_CLIENT_CERT_HEADER", default="X-Client-Cert")
TRADINGVIEW_CLIENT_VERIFY_HEADER = env.str("TRADINGVIEW_CLIENT_VERIFY_HEADER", default="X-Client-Verify")

# E-mail: production refuses to start on the console backend (it printed password-reset links into the log). Give
# EMAIL_URL (smtp+tls://user:password@host:587) or, deliberately, EMAIL_OFF=1: then nothing is sent and every
# process says so in its log at start.
EMAIL_OFF = env.bool("EMAIL_OFF", default=False)
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS, ...
if EMAIL_OFF:
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
elif not DEBUG and not TESTING and EMAIL_BACKEND.rsplit(".", 2)[-2] in ("console", "locmem", "filebased", "dummy"):
    raise ImproperlyConfigured(
        "E-mail is not configured: set EMAIL_URL (e.g. smtp+tls://user:password@host:587), or EMAIL_OFF=1 to run "
        "without e-mail (no password resets, verification or trader alerts)"
    )

# The cache every process shares: allauth's login and sign-up throttles count here, so a flood spread over the web
# workers (or hosts) is counted once. A database table (`manage.py createcachetable`) needs nothing new to run.
if not env.str("CACHE_URL", default=""):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "orderrail_cache"},
    }
# django-q2 saves its cluster statistics to a cache twice a second; kept in the process, not in the database.
CACHES["local"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "orderrail-local"}
Q_CLUSTER["cache"] = "local"

# Database timeouts (PostgreSQL): a frozen or locked database must make the webhook answer 503 quickly (TradingView
# re-sends on 5xx) instead of holding the request past TradingView's 3 s. gunicorn.conf.py sets the web's
# statement timeout to 1.5 s; other processes get 30 s (run a migration that rewrites a large table with
# DB_STATEMENT_TIMEOUT_MS=0).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=2))
    _options["options"] = (
        _options.get("options", "") + f" -c statement_timeout={env.int('DB_STATEMENT_TIMEOUT_MS', default=30000)}"
    ).strip()

# Logs: one JSON object per line in production (LOG_FORMAT=plain for people), each carrying the alert it concerns
# (`alert_id`) in the web process and in the worker alike (ops.logs).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG or TESTING else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"alert": {"()": "ops.logs.AlertIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(alert_label)s%(message)s"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["alert"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# /healthz: what counts as healthy (seconds, alerts).
HEALTH_WORKER_MAX_AGE_SECONDS = env.int("HEALTH_WORKER_MAX_AGE_SECONDS", default=180)
HEALTH_RECONCILE_MAX_AGE_SECONDS = env.int("HEALTH_RECONCILE_MAX_AGE_SECONDS", default=600)
HEALTH_BACKLOG_MAX_AGE_SECONDS = env.int("HEALTH_BACKLOG_MAX_AGE_SECONDS", default=60)

# Rejected alerts (issue 10 hole 8): anyone holding a route's URL can make them, so they are kept for a while and
# capped per route; decided alerts are the permanent record and are never pruned.
REJECTION_RETENTION_DAYS = env.int("REJECTION_RETENTION_DAYS", default=30)
REJECTIONS_KEPT_PER_ROUTE = env.int("REJECTIONS_KEPT_PER_ROUTE", default=1000)

# Live routes need a paid subscription ($30/month). Self-hosters turn billing off with this one setting: every account
# then has live access, and no billing page, Stripe key or price is needed.
BILLING_ENABLED = env.bool("BILLING_ENABLED", default=True)
# A renewal that fails (card declined) keeps live access this long past the paid period while Stripe retries.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=3)
# The trader is told this long before live access ends (and again when it has ended); checked on this schedule.
BILLING_NOTICE_DAYS = env.int("BILLING_NOTICE_DAYS", default=3)
BILLING_NOTICE_EVERY_MINUTES = env.int("BILLING_NOTICE_EVERY_MINUTES", default=15)

# Stripe through dj-stripe. Keys come from the environment only (never the database or the admin); subscription state
# comes only from Stripe's signed webhook events (endpoints live in the database: `manage.py billing_webhook_endpoint`).
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = env.str("STRIPE_TEST_SECRET_KEY", default="")
STRIPE_LIVE_SECRET_KEY = env.str("STRIPE_LIVE_SECRET_KEY", default="")
# The one $30/month price (`manage.py billing_setup` creates it); a subscription to it is what grants live access.
STRIPE_PRICE_ID = env.str("STRIPE_PRICE_ID", default="")
# Optional customer-portal configuration (cancel at period end, update the card, invoice history).
STRIPE_PORTAL_CONFIGURATION = env.str("STRIPE_PORTAL_CONFIGURATION", default="")
STRIPE_CONNECT_TIMEOUT = env.float("STRIPE_CONNECT_TIMEOUT", default=5.0)
STRIPE_READ_TIMEOUT = env.float("STRIPE_READ_TIMEOUT", default=20.0)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
# dj-stripe's three migrations in one (billing/stripe_schema says why).
MIGRATION_MODULES = {"djstripe": "billing.stripe_schema.migrations"}
# dj-stripe checks its plaintext secret column, which stays empty: the secret is sealed (billing.webhook_secrets) and
# billing.W001 checks that instead.
SILENCED_SYSTEM_CHECKS = ["djstripe.W005", "djstripe.I006"]
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
