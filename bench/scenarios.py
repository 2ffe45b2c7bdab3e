"""The benchmark scenarios: each builds its own stack on a freshly reset database, runs a bounded load and returns
its figures (bench/run.py runs them and prints the table; bench/README.md says what each one measures)."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import harness as h


class Options:
    """What every scenario reads: the database, the latency the fake adds, where logs go."""

    def __init__(self, database_url: str, latency_ms: float, logs: Path, engine_threads: int | None = None) -> None:
        self.database_url = database_url
        self.latency_ms = latency_ms
        self.logs = logs
        self.engine_threads = engine_threads


def _prepare(opts: Options, routes: int, name: str, **seed_args: Any) -> list[str]:
    h.reset_database(opts.database_url)
    return h.seed(routes, opts.logs / name / "accounts.json", **seed_args)


def _stack(opts: Options, name: str, **settings: str) -> h.Stack:
    return h.Stack(opts.database_url, opts.logs / name, **settings)


# --- intake against the floor ---------------------------------------------------------------------------------------


def intake(opts: Options, *, concurrency: int = 8, requests: int = 2000, rounds: int = 2) -> dict[str, object]:
    """Intake alone (no engine running) against the floor, in the same run: alternating rounds of `requests`
    valid alerts at `concurrency`, product then floor, so both see the same machine."""
    paths = _prepare(opts, 200, "intake")
    with _stack(opts, "intake") as stack:
        stack.start_web()
        stack.start_floor()
        meter = h.CpuMeter(stack)
        for base in (stack.web, stack.floor):  # warm: connections, imports, the first queries
            h.run_in_process(h.load, base, paths, concurrency, 400, 10.0, "valid")
        runs: dict[str, list[tuple[float, list[tuple[float, int]], dict[str, float]]]] = {"web": [], "floor": []}
        load_before = h.machine_load()
        for _ in range(rounds):
            for role, base in (("web", stack.web), ("floor", stack.floor)):
                before = meter.sample()
                elapsed, results, loadgen = h.run_in_process(h.load, base, paths, concurrency, requests, 30.0, "valid")
                runs[role].append((elapsed, results, h.cpu_delta(before, meter.sample(), loadgen)))
    out: dict[str, object] = {"scenario": "intake", "concurrency": concurrency, "load": load_before}
    for role, rows in runs.items():
        elapsed = sum(r[0] for r in rows)
        results = [x for r in rows for x in r[1]]
        summary = h.ack_summary(role, elapsed, results)
        cpu: dict[str, float] = {}
        for r in rows:
            for k, v in r[2].items():
                cpu[k] = round(cpu.get(k, 0.0) + v, 3)
        summary["cpu_ms_per_request"] = h.per_alert_ms(cpu, len(results))
        out[role] = summary
    web, floor = out["web"], out["floor"]
    assert isinstance(web, dict) and isinstance(floor, dict)
    out["ratio_rps"] = round(web["rps"] / floor["rps"], 2) if floor["rps"] else None
    out["ratio_p99"] = round(web["ack_p99_ms"] / floor["ack_p99_ms"], 2) if floor["ack_p99_ms"] else None
    return out


def hostile(opts: Options, *, concurrency: int = 8) -> dict[str, object]:
    """Bad input at `concurrency`, each answered 4xx, never 5xx: 1 MB bodies, bad JSON and a wrong secret spread
    over 200 routes (every rejection stored - what a broken alert template on many routes costs); a wrong secret
    flooding one route (what someone holding a leaked URL can do: 30 stored a minute, then 429s that store nothing);
    unknown route URLs. Beside them, in the same run, the floor's own answers at the same concurrency - its 400 for
    bad JSON (no database at all) and its 202 (one INSERT) - as what a bare Django view achieves on this machine."""
    paths = _prepare(opts, 200, "hostile")
    unknown = [f"/hooks/no-such-route-{i}" for i in range(200)]
    phases = []
    with _stack(opts, "hostile") as stack:
        stack.start_web()
        stack.start_floor()
        for base in (stack.web, stack.floor):  # warm
            h.run_in_process(h.load, base, paths, concurrency, 200, 10.0, "valid")
        meter = h.CpuMeter(stack)
        load = h.machine_load()
        plan = (
            ("huge", stack.web, paths, "huge", 160),
            ("badjson", stack.web, paths, "badjson", 800),
            ("badsecret", stack.web, paths, "badsecret", 800),
            ("flood one route", stack.web, paths[-1:], "badsecret", 800),
            ("unknown route", stack.web, unknown, "valid", 800),
            ("floor badjson", stack.floor, paths, "badjson", 800),
            ("floor valid", stack.floor, paths, "valid", 800),
        )
        for name, base, targets, kind, total in plan:
            before = meter.sample()
            elapsed, results, loadgen = h.run_in_process(h.load, base, targets, concurrency, total, 30.0, kind)
            summary = h.ack_summary(name, elapsed, results)
            summary["cpu_s"] = h.cpu_delta(before, meter.sample(), loadgen)
            phases.append(summary)
    ours = [p for p in phases if not str(p["phase"]).startswith("floor")]
    return {
        "scenario": "hostile",
        "load": load,
        "phases": phases,
        "worst_p99_ms": max(float(p["ack_p99_ms"]) for p in ours),
        "5xx": sum(int(p["5xx"]) for p in ours),
    }


# --- the pipeline ----------------------------------------------------------------------------------------------------


def _start_pipeline(
    stack: h.Stack, opts: Options, accounts: Path, *, engines: int = 1, djangoq: bool = True, web: bool = True
) -> None:
    stack.start_fake(accounts, opts.latency_ms)
    if web:
        stack.start_web()
    for n in range(engines):
        stack.start_engine("engine" if n == 0 else f"engine{n + 1}", threads=opts.engine_threads)
    if djangoq:
        stack.start_djangoq()


def _startup_pass(started: datetime, timeout: float = 600.0) -> float | None:
    """Wait for the engine's start-up reconciliation (every account) to finish; seconds it took."""
    took = h.all_reconciled_since(started, timeout)
    h.engine_idle(60)
    return took


def cpu_per_alert(opts: Options, *, alerts: int = 1000, concurrency: int = 2) -> dict[str, object]:
    """CPU per alert, every process, at zero added latency: intake, decision, order, and the worst-case stop's upkeep
    (each alert opens or closes a position, so each also places or cancels the stop). Reconciliation is kept out
    (a period of an hour, after the start-up pass) and the stack's idle CPU over the same time is subtracted."""
    name = "cpu"
    paths = _prepare(opts, 100, name)
    with _stack(opts, name, RECONCILE_EVERY_MINUTES="60") as stack:
        started = datetime.now(UTC)
        _start_pipeline(stack, opts, opts.logs / name / "accounts.json")
        startup = _startup_pass(started)
        h.run_in_process(h.load, stack.web, paths, concurrency, 100, 30.0, "valid")  # warm: sessions, caches
        h.engine_idle(60)
        meter = h.CpuMeter(stack)
        idle0 = meter.sample()
        t_idle = time.monotonic()
        time.sleep(5)
        idle = h.cpu_delta(idle0, meter.sample())
        idle_seconds = time.monotonic() - t_idle
        load = h.machine_load()
        since = datetime.now(UTC)
        before = meter.sample()
        t0 = time.monotonic()
        elapsed, results, loadgen = h.run_in_process(h.load, stack.web, paths, concurrency, alerts, 120.0, "valid")
        h.wait_decided(since, len(results), 120)
        h.engine_idle(60)
        time.sleep(0.5)  # the last stop upkeep after the last decision
        after = meter.sample()
        window = time.monotonic() - t0
        delta = h.cpu_delta(before, after, loadgen)
        net = {
            role: round(max(0.0, seconds - idle.get(role, 0.0) * window / idle_seconds), 3)
            for role, seconds in delta.items()
            if role not in ("stack", "other", "wall_machine_busy")
        }
        net_stack = sum(v for k, v in net.items() if k != "loadgen")
        result = h.outcome(since)
    n = len(results)
    per_alert = h.per_alert_ms(net, n)
    orderrail = sum(v for k, v in per_alert.items() if k not in ("fake", "loadgen", "postgres:fake"))
    return {
        "scenario": "cpu",
        "load": load,
        "alerts": n,
        "acks": h.ack_summary("valid", elapsed, results),
        "startup_pass_s": startup,
        "idle_cpu_s_per_s": {k: round(v / idle_seconds, 3) for k, v in idle.items()},
        "cpu_ms_per_alert": per_alert,
        "cpu_ms_per_alert_stack": round(net_stack * 1000 / n, 2) if n else None,
        "cpu_ms_per_alert_orderrail": round(orderrail, 2),
        "outcome": result,
    }


def one_alert(opts: Options, *, alerts: int = 40) -> dict[str, object]:
    """One alert at a time at the fake's latency: received -> order accepted by the exchange."""
    name = "latency"
    paths = _prepare(opts, 20, name)
    with _stack(opts, name, RECONCILE_EVERY_MINUTES="60") as stack:
        started = datetime.now(UTC)
        _start_pipeline(stack, opts, opts.logs / name / "accounts.json")
        startup = _startup_pass(started)
        load = h.machine_load()
        rows = _one_by_one(stack, paths, alerts)
    return {"scenario": "latency", "latency_ms": opts.latency_ms, "load": load, "startup_pass_s": startup} | rows


def _one_by_one(stack: h.Stack, paths: list[str], alerts: int, *, warm: int = 2) -> dict[str, object]:
    import requests

    from audit.models import Alert

    since: datetime | None = None
    for i in range(alerts + warm):
        if i == warm:
            since = datetime.now(UTC)
        path = paths[i % len(paths)]
        side = "buy" if (i // len(paths)) % 2 == 0 else "sell"
        answer = requests.post(stack.web + path, data=h.alert_body(i, side=side), timeout=10)
        alert_id = answer.json().get("alert")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if Alert.objects.filter(pk=alert_id, status="decided").exists():
                break
            time.sleep(0.02)
        time.sleep(0.5)  # its stop upkeep, then the next alert
    assert since is not None
    result = h.outcome(since)
    decided = sorted(
        (a.decided_at - a.received_at).total_seconds() * 1000
        for a in Alert.objects.filter(received_at__gte=since, decided_at__isnull=False)
    )
    result["received_to_decided_p50_ms"] = round(h.pct(decided, 50), 1)
    result["received_to_decided_max_ms"] = round(decided[-1], 1) if decided else None
    return result


def bar_close(
    opts: Options, *, routes: int = 1000, reconcile_minutes: int = 60, wait: float = 180.0
) -> dict[str, object]:
    """`routes` alerts for `routes` routes released at the same moment, at the fake's latency. With the default
    reconciliation period of an hour the burst comes after the start-up pass; with a short one
    (`reconcile_minutes=1`) it lands in the middle of a pass."""
    name = f"burst{routes}"
    paths = _prepare(opts, routes, name)
    with _stack(opts, name, RECONCILE_EVERY_MINUTES=str(reconcile_minutes)) as stack:
        started = datetime.now(UTC)
        _start_pipeline(stack, opts, opts.logs / name / "accounts.json")
        startup = None
        if reconcile_minutes >= 60:
            startup = _startup_pass(started, timeout=900)
        else:
            time.sleep(10)  # the pass is under way
        meter = h.CpuMeter(stack)
        load = h.machine_load()
        since = datetime.now(UTC)
        before = meter.sample()
        elapsed, results, loadgen = h.run_in_process(h.burst, stack.web, paths, 120.0)
        acked = meter.sample()
        decided_in = h.wait_decided(since, routes, wait)
        result = h.outcome(since)
        cpu_decided = h.cpu_delta(before, meter.sample(), loadgen)
    acks = h.ack_summary(f"burst {routes}", elapsed, [(r[0], r[1]) for r in results])
    reasons = result.get("reasons", {})
    assert isinstance(reasons, dict)
    return {
        "scenario": name,
        "latency_ms": opts.latency_ms,
        "reconcile_every_minutes": reconcile_minutes,
        "load": load,
        "startup_pass_s": startup,
        "acks": acks,
        "all_acked_within_s": round(elapsed, 2),
        "accepted_202": int(acks["status_codes"].get("202", 0)),  # type: ignore[union-attr]
        "lost": routes - int(result["stored"]),  # type: ignore[arg-type]
        "stale": int(reasons.get("stale_alert", 0)),
        "all_decided_within_s": round(decided_in, 2) if decided_in is not None else None,
        "cpu_s_acks": h.cpu_delta(before, acked, loadgen),
        "cpu_s_until_decided": cpu_decided,
        "outcome": result,
    }


# --- reconciliation at scale (issue 7 item 20) ----------------------------------------------------------------------


def reconcile_scale(
    opts: Options, *, accounts: int = 1200, minutes: int = 1, periods: float = 2.5, alerts: int = 20
) -> dict[str, object]:
    """`accounts` accounts (one route each) at the fake's latency, RECONCILE_EVERY_MINUTES=`minutes`: every account
    reconciled within two periods, how long each account's job took, and alerts sent during the pass decided
    within 1 s of arrival."""
    import requests

    from accounts.models import ExchangeAccount
    from audit.models import Alert

    name = "reconcile"
    paths = _prepare(opts, accounts, name)
    period = minutes * 60
    seen: dict[int, list[datetime]] = {}
    claims: dict[int, datetime] = {}
    durations: list[float] = []
    alert_ids: list[int] = []
    with _stack(opts, name, RECONCILE_EVERY_MINUTES=str(minutes)) as stack:
        _start_pipeline(stack, opts, opts.logs / name / "accounts.json")
        started = datetime.now(UTC)
        load = h.machine_load()
        meter = h.CpuMeter(stack)
        cpu0 = meter.sample()
        end = time.monotonic() + periods * period
        next_alert = time.monotonic() + 15
        sent = 0
        while time.monotonic() < end:
            for pk, queued, reconciled in ExchangeAccount.objects.values_list(
                "pk", "reconcile_queued_at", "reconciled_at"
            ):
                if queued is not None:
                    claims.setdefault(pk, queued)
                if reconciled is not None and reconciled >= started:
                    times = seen.setdefault(pk, [])
                    if not times or times[-1] != reconciled:
                        times.append(reconciled)
                        claim = claims.pop(pk, None)
                        if claim is not None and claim <= reconciled:
                            durations.append((reconciled - claim).total_seconds())
            if sent < alerts and time.monotonic() >= next_alert:
                path = paths[(sent * 37) % len(paths)]
                answer = requests.post(stack.web + path, data=h.alert_body(sent, side="buy"), timeout=10)
                alert_ids.append(answer.json().get("alert"))
                sent += 1
                next_alert = time.monotonic() + (periods * period - 30) / alerts
            time.sleep(0.25)
        cpu = h.cpu_delta(cpu0, meter.sample())
        engine_log = (opts.logs / name / "engine.log").read_text(errors="replace")
    from django.db import connection

    latencies = sorted(
        (a.decided_at - a.received_at).total_seconds()
        for a in Alert.objects.filter(pk__in=alert_ids, decided_at__isnull=False)
    )
    connection.close()
    first = sorted((times[0] - started).total_seconds() for times in seen.values())
    gaps = [(b - a).total_seconds() for times in seen.values() for a, b in itertools.pairwise(times)]
    durations.sort()
    return {
        "scenario": "reconcile",
        "accounts": accounts,
        "latency_ms": opts.latency_ms,
        "period_s": period,
        "observed_s": round(periods * period),
        "load": load,
        "accounts_reconciled": len(seen),
        "first_pass_done_s": round(first[-1], 1) if len(first) == accounts else None,
        "max_gap_between_reconciliations_s": round(max(gaps), 1) if gaps else None,
        "all_within_two_periods": len(first) == accounts
        and first[-1] <= 2 * period
        and all(g <= 2 * period for g in gaps),
        "reconciliations": sum(len(t) for t in seen.values()),
        "job_s_p50": round(h.pct(durations, 50), 2),
        "job_s_p99": round(h.pct(durations, 99), 2),
        "job_s_max": round(durations[-1], 2) if durations else None,
        "engine_errors_logged": engine_log.count("ERROR"),
        "alerts_sent": len(alert_ids),
        "alert_decided_s_p50": round(h.pct(latencies, 50), 3),
        "alert_decided_s_max": round(latencies[-1], 3) if latencies else None,
        "alerts_within_1s": sum(1 for x in latencies if x <= 1.0),
        "cpu_s": cpu,
    }


# --- scale-out and memory ---------------------------------------------------------------------------------------------


def scale_out(opts: Options, *, alerts: int = 2000, engines: tuple[int, ...] = (1, 2)) -> dict[str, object]:
    """A backlog of `alerts` (stored with no engine running) drained by one engine, then (fresh database, same
    backlog) by two engines on the same PostgreSQL: alerts decided per second, and exactly one decision per alert
    and one exchange order per order row."""
    import requests

    from audit.models import Alert, Decision, Order

    out: dict[str, object] = {"scenario": "scaleout", "latency_ms": opts.latency_ms, "load": h.machine_load()}
    for count in engines:
        name = f"scaleout{count}"
        paths = _prepare(opts, 200, name)
        with _stack(opts, name, RECONCILE_EVERY_MINUTES="60") as stack:
            _start_pipeline(stack, opts, opts.logs / name / "accounts.json", engines=0)
            h.run_in_process(h.load, stack.web, paths, 8, alerts, 120.0, "valid")
            since = datetime.now(UTC) - timedelta(hours=1)
            stored = Alert.objects.filter(status="queued").count()
            meter = h.CpuMeter(stack)
            before = meter.sample()
            t0 = time.monotonic()
            for n in range(count):
                stack.start_engine("engine" if n == 0 else f"engine{n + 1}", threads=opts.engine_threads)
            # From the first decision to the last: the engines' start-up (imports, reconciliation claims) apart.
            while not Alert.objects.filter(status="decided").exists() and time.monotonic() - t0 < 120:
                time.sleep(0.02)
            t_first = time.monotonic()
            took = h.wait_decided(since, stored, 600, poll=0.1)
            window = time.monotonic() - t_first
            cpu = h.cpu_delta(before, meter.sample())
            decided = Alert.objects.filter(status="decided").count()
            decisions = Decision.objects.filter(alert__status="decided").count()
            sent_rows = Order.objects.exclude(submit_attempts=0).count()
            attempts = sum(Order.objects.values_list("submit_attempts", flat=True))
            sendorders = requests.get(f"{stack.kraken}/_fake/calls", params={"endpoint": "sendorder"}, timeout=10)
            per_engine = {
                role: (opts.logs / name / f"{role}.log").read_text().count("alert processed")
                for role in ["engine", *[f"engine{k + 1}" for k in range(1, count)]]
            }
        out[f"engines_{count}"] = {
            "backlog": stored,
            "decided": decided,
            "decisions": decisions,
            "order_rows_sent": sent_rows,
            "submit_attempts": attempts,
            "exchange_sendorder_calls": sendorders.json().get("calls"),
            "alerts_per_engine": per_engine,
            "drained_in_s": round(window, 2) if took is not None else None,
            "alerts_per_s": round(decided / window, 1) if window else None,
            "cpu_s": cpu,
        }
    one, two = out.get("engines_1"), out.get("engines_2")
    if isinstance(one, dict) and isinstance(two, dict) and one.get("alerts_per_s") and two.get("alerts_per_s"):
        out["speedup"] = round(two["alerts_per_s"] / one["alerts_per_s"], 2)
    return out


def memory(opts: Options, *, alerts: int = 10_000, warm: int = 1000, concurrency: int = 4) -> dict[str, object]:
    """Engine RSS after `warm` alerts and after `alerts` more (zero latency, 200 routes)."""
    name = "memory"
    paths = _prepare(opts, 200, name)
    with _stack(opts, name, RECONCILE_EVERY_MINUTES="60") as stack:
        started = datetime.now(UTC)
        _start_pipeline(stack, opts, opts.logs / name / "accounts.json")
        _startup_pass(started)
        since = datetime.now(UTC)
        h.run_in_process(h.load, stack.web, paths, concurrency, warm, 300.0, "valid")
        h.wait_decided(since, warm, 300)
        h.engine_idle(60)
        pid = stack.pid("engine")
        assert pid is not None
        rss0 = h.rss_kib(pid)
        samples = [rss0]
        threads = [h.thread_count(pid)]
        load = h.machine_load()
        since = datetime.now(UTC)
        sent = 0
        while sent < alerts:
            batch = min(2000, alerts - sent)
            _, results, _ = h.run_in_process(h.load, stack.web, paths, concurrency, batch, 300.0, "valid")
            sent += len(results)
            samples.append(h.rss_kib(pid))
            threads.append(h.thread_count(pid))
        h.wait_decided(since, sent, 600)
        h.engine_idle(60)
        rss1 = h.rss_kib(pid)
        samples.append(rss1)
        threads.append(h.thread_count(pid))
        result = h.outcome(since)
    return {
        "scenario": "memory",
        "load": load,
        "alerts": sent,
        "rss_after_warmup_mib": round(rss0 / 1024, 1),
        "rss_after_mib": round(rss1 / 1024, 1),
        "growth_mib": round((rss1 - rss0) / 1024, 2),
        "samples_mib": [round(s / 1024, 1) for s in samples],
        "threads": threads,
        "decided": result["decided"],
    }


SCENARIOS = {
    "intake": intake,
    "hostile": hostile,
    "cpu": cpu_per_alert,
    "latency": one_alert,
    "burst": bar_close,
    "burst5000": lambda opts: bar_close(opts, routes=5000, wait=600.0),
    "burst_reconciling": lambda opts: bar_close(opts, routes=1000, reconcile_minutes=1),
    "reconcile": reconcile_scale,
    "scaleout": scale_out,
    "memory": memory,
}


def dump(result: dict[str, object]) -> str:
    return json.dumps(result, default=str)
