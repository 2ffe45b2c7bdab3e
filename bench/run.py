"""Every benchmark figure of the README's table, in one command:

    .venv/bin/python bench/run.py                       # all scenarios (about half an hour on 2 cores)
    .venv/bin/python bench/run.py --only intake,latency --exchange-latency-ms 50

Each scenario resets its own PostgreSQL database (`--database-url`, default orderrail_bench), starts the real
stack as separate processes (bench/harness.py) and stops it; results go to bench/results/<scenario>.json and the
table to bench/results/table.md. The machine is shared: every result records the load averages at its start.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness as h  # noqa: E402

# Scenarios measured at zero added latency (CPU-bound figures); the others use --exchange-latency-ms.
ZERO_LATENCY = {"intake", "hostile", "cpu", "memory"}
ORDER = [
    "intake",
    "hostile",
    "cpu",
    "latency",
    "burst",
    "burst5000",
    "burst_reconciling",
    "reconcile",
    "scaleout",
    "memory",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=h.DEFAULT_DB)
    parser.add_argument(
        "--exchange-latency-ms",
        type=float,
        default=50.0,
        help="the fake Kraken's latency switch on every endpoint, for the round-trip scenarios (default 50)",
    )
    parser.add_argument("--only", default=",".join(ORDER), help=f"comma-separated, of: {', '.join(ORDER)}")
    parser.add_argument("--engine-threads", type=int, help="the engine's threads (default: ENGINE_THREADS)")
    parser.add_argument("--logs", type=Path, default=h.RESULTS / "logs")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("the benchmarks run on PostgreSQL (NOTIFY, concurrent engines)")

    h.setup_django(args.database_url)
    from bench import scenarios

    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(scenarios.SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    results: dict[str, dict[str, object]] = {}
    for name in wanted:
        latency = 0.0 if name in ZERO_LATENCY else args.exchange_latency_ms
        opts = scenarios.Options(args.database_url, latency, args.logs, args.engine_threads)
        t0 = time.monotonic()
        result = scenarios.SCENARIOS[name](opts)
        result["took_s"] = round(time.monotonic() - t0, 1)
        results[name] = result
        h.write_result(name, result)
        print(scenarios.dump(result), flush=True)
    table = render(results)
    (h.RESULTS / "table.md").write_text(table)
    print(table)
    return 0


def _get(result: dict[str, object], *keys: str) -> object:
    value: object = result
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def render(results: dict[str, dict[str, object]]) -> str:
    rows = ["| figure | target | measured | load (1 min) |", "|---|---|---|---|"]

    def row(name: str, figure: str, target: str, measured: str) -> None:
        load = _get(results[name], "load", "load1")
        rows.append(f"| {figure} | {target} | {measured} | {load} |")

    if "intake" in results:
        r = results["intake"]
        web, floor = r["web"], r["floor"]
        assert isinstance(web, dict) and isinstance(floor, dict)
        row(
            "intake",
            "intake c=8 vs the floor",
            "≥ 0.7×, p99 ≤ 2× floor's",
            f"{web['rps']} vs {floor['rps']} req/s = **{r['ratio_rps']}×**; p99 {web['ack_p99_ms']} vs "
            f"{floor['ack_p99_ms']} ms = **{r['ratio_p99']}×**",
        )
    if "hostile" in results:
        r = results["hostile"]
        phases = r["phases"]
        assert isinstance(phases, list)
        ours = ", ".join(f"{p['phase']} {p['ack_p99_ms']}" for p in phases if not p["phase"].startswith("floor"))
        floor = ", ".join(f"{p['phase']} {p['ack_p99_ms']}" for p in phases if p["phase"].startswith("floor"))
        row("hostile", "hostile rejects c=8, p99", "≤ 10 ms, 0 × 5xx", f"{ours} ms; {r['5xx']} × 5xx ({floor} ms)")
    if "cpu" in results:
        r = results["cpu"]
        per = r["cpu_ms_per_alert"]
        assert isinstance(per, dict)
        parts = ", ".join(f"{k} {v}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        row(
            "cpu",
            "CPU per alert (intake + pipeline + stop upkeep, 0 ms)",
            "≤ 15 ms",
            f"**{r['cpu_ms_per_alert_orderrail']} ms** OrderRail ({parts})",
        )
    if "latency" in results:
        r = results["latency"]
        row(
            "latency",
            f"one alert, {r['latency_ms']:.0f} ms round trip: received → accepted",
            "p50 ≤ 200, p99 ≤ 400 ms",
            f"p50 **{_get(r, 'received_to_accepted_p50_ms')}**, p99 **{_get(r, 'received_to_accepted_p99_ms')}** ms",
        )
    for name, label in (("burst", "bar close 1,000"), ("burst_reconciling", "bar close 1,000 during a pass")):
        if name in results:
            r = results[name]
            row(
                name,
                f"{label} at {r['latency_ms']:.0f} ms",
                "acked ≤ 3 s, 0 lost, 0 stale, accepted ≤ 15 s",
                f"acked in **{r['all_acked_within_s']} s**, {r['lost']} lost, {r['stale']} stale, "
                f"{_get(r, 'acks', '5xx')} × 5xx, last accepted **"
                f"{round(float(_get(r, 'outcome', 'received_to_accepted_max_ms') or 0) / 1000, 1)} s**, "
                f"all decided in {r['all_decided_within_s']} s",
            )
    if "burst5000" in results:
        r = results["burst5000"]
        row(
            "burst5000",
            f"bar close 5,000 at {r['latency_ms']:.0f} ms",
            "0 × 5xx, 0 lost",
            f"acked in {r['all_acked_within_s']} s, {_get(r, 'acks', '5xx')} × 5xx, {r['lost']} lost; "
            f"all decided in {r['all_decided_within_s']} s",
        )
    if "reconcile" in results:
        r = results["reconcile"]
        row(
            "reconcile",
            f"{r['accounts']} accounts at {r['latency_ms']:.0f} ms, period {r['period_s']} s",
            "all within 2 periods, no long job, alert ≤ 1 s",
            f"first pass {r['first_pass_done_s']} s, max gap {r['max_gap_between_reconciliations_s']} s, "
            f"job p99 {r['job_s_p99']} s / max {r['job_s_max']} s, alerts {r['alerts_within_1s']}/"
            f"{r['alerts_sent']} within 1 s (max {r['alert_decided_s_max']} s)",
        )
    if "scaleout" in results:
        r = results["scaleout"]
        one, two = r.get("engines_1"), r.get("engines_2")
        if isinstance(one, dict) and isinstance(two, dict):
            row(
                "scaleout",
                f"two engines, backlog drain at {r['latency_ms']:.0f} ms",
                "exactly once, more throughput",
                f"{one['alerts_per_s']} → {two['alerts_per_s']} alerts/s (**{r.get('speedup')}×**); decisions "
                f"{two['decisions']}/{two['backlog']}, sendorders {two['exchange_sendorder_calls']} = attempts "
                f"{two['submit_attempts']}",
            )
    if "memory" in results:
        r = results["memory"]
        row(
            "memory",
            f"engine RSS over {r['alerts']} alerts",
            "< 5 MB growth",
            f"{r['rss_after_warmup_mib']} → {r['rss_after_mib']} MiB (**{r['growth_mib']} MiB**)",
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
