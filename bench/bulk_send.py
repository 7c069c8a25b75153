"""Bulk-send benchmark: SendSmsOperator's code path against the emulator, vs one request per recipient.

    .venv/bin/python bench/bulk_send.py                       # 100,000 personalised recipients
    .venv/bin/python bench/bulk_send.py --mode file --n 1000000   # memory: 1,000,000 numbers from a file

The emulator runs in its own process (counters only), so the figures are this process's: the operator
plans, renders, batches, writes the ledger and parses answers. Prints requests made (must equal
ceil(N / batch_size)), recipients per second for the operator and for two naive one-request-per-recipient
loops (measured on --naive-n recipients each), the ratios, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def _start_emulator(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = work / "emulator.url"
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_isendpro.testing", "--port", "0", "--ready-file", str(ready),
         "--quiet", "--credit", "1000000000", "--no-record-requests", "--no-record-sent",
         "--config", json.dumps({"max_recipients": 100000})],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not ready.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("emulator did not start")
        time.sleep(0.05)
    return proc, ready.read_text().strip()


def _stats(base_url: str) -> dict[str, Any]:
    root = base_url.rsplit("/cgi-bin", 1)[0]
    with urllib.request.urlopen(f"{root}/_emulator/stats", timeout=10) as response:
        return dict(json.load(response))


def _reset(base_url: str) -> None:
    root = base_url.rsplit("/cgi-bin", 1)[0]
    request = urllib.request.Request(f"{root}/_emulator/reset", data=b"{}", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


class _TI:
    map_index = -1
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def run_operator(work: Path, n: int, batch_size: int, *, mode: str) -> tuple[dict[str, Any], float]:
    from airflow_provider_isendpro.operators.sms import SendSmsOperator

    common = {"task_id": "bench", "batch_size": batch_size, "ledger_path": str(work / "ledger"),
              "max_inline": 0, "details_path": str(work / "details.jsonl")}  # fmt: skip
    if mode == "file":
        path = work / "numbers.txt"
        op = SendSmsOperator(recipients_file=str(path), text="Maintenance ce soir 22h", **common)
    else:
        rows = [{"number": f"06{10000000 + i:08d}", "name": f"Client{i}"} for i in range(n)]
        op = SendSmsOperator(
            recipients=rows, text="Bonjour {{ recipient.name }}, votre RDV est confirmé.", **common
        )
    context: dict[str, Any] = {"run_id": f"bench_{time.time_ns()}", "ti": _TI()}
    op.render_template_fields(context)  # type: ignore[arg-type]
    started = time.perf_counter()
    result = op.execute(context)  # type: ignore[arg-type]
    return result, time.perf_counter() - started


def run_naive_client(base_url: str, n: int) -> float:
    """One /sms request per recipient through this package's client (pooled connection, same checks)."""
    from airflow_provider_isendpro.client import ClientConfig, IsendproClient
    from airflow_provider_isendpro.testing.config import DEFAULT_API_KEY

    client = IsendproClient(ClientConfig(api_key=DEFAULT_API_KEY, base_url=base_url))
    started = time.perf_counter()
    for i in range(n):
        client.send_sms(f"06{10000000 + i:08d}", f"Bonjour Client{i}, votre RDV est confirmé.")
    client.close()
    return time.perf_counter() - started


def run_naive_requests(base_url: str, n: int) -> float:
    """The hand-written loop: ``requests.post`` per recipient (a new connection each time)."""
    import requests

    from airflow_provider_isendpro.testing.config import DEFAULT_API_KEY

    started = time.perf_counter()
    for i in range(n):
        body = {"keyid": DEFAULT_API_KEY, "num": f"06{10000000 + i:08d}", "sms": f"Bonjour Client{i}"}
        requests.post(f"{base_url}/sms", json=body, timeout=30).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["rows", "file"], default="rows")
    parser.add_argument("--n", type=int, default=None, help="recipients (rows: 100000, file: 1000000)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--naive-n", type=int, default=None, help="recipients for each naive loop (default min(n, 20000))"
    )
    args = parser.parse_args()
    n = args.n or (100_000 if args.mode == "rows" else 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="isendpro-bench-"))
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    proc, base_url = _start_emulator(work)
    try:
        os.environ["AIRFLOW_CONN_ISENDPRO_DEFAULT"] = json.dumps(
            {"conn_type": "isendpro", "host": base_url, "password": "emulator-fake-keyid"}
        )
        import airflow.sdk  # noqa: F401  (imports are part of the idle baseline, not of the send)

        import airflow_provider_isendpro.operators.sms  # noqa: F401

        if args.mode == "file":
            with open(work / "numbers.txt", "w") as handle:
                for i in range(n):
                    handle.write(f"06 {10000000 + i:08d}\n" if i % 3 else f"+336{10000000 + i:08d}\n")
        idle = _current_rss_mb()
        result, seconds = run_operator(work, n, args.batch_size, mode=args.mode)
        peak = _rss_mb()
        requests = _stats(base_url)
        expected = math.ceil(n / args.batch_size)
        print(f"mode={args.mode} recipients={n} batch_size={args.batch_size}")
        print(
            f"operator: {result['counts']['sent']} sent in {seconds:.2f} s = {n / seconds:,.0f} recipients/s"
        )
        print(f"HTTP requests made: {result['requests']} (ceil(N / batch_size) = {expected})")
        print(f"emulator stats: {json.dumps(requests, sort_keys=True)}")
        print(f"RSS: idle baseline {idle:.0f} MB, peak {peak:.0f} MB, growth {peak - idle:.0f} MB")
        if args.mode == "rows":
            naive_n = args.naive_n or min(n, 20_000)
            rate = n / seconds
            for label, naive in (
                ("naive loop, this package's client (pooled connection)", run_naive_client),
                ("naive loop, requests.post per recipient", run_naive_requests),
            ):
                _reset(base_url)
                naive_seconds = naive(base_url, naive_n)
                naive_rate = naive_n / naive_seconds
                print(
                    f"{label}: {naive_n} requests in {naive_seconds:.2f} s = {naive_rate:,.0f} recipients/s"
                )
                print(f"  ratio operator / naive: {rate / naive_rate:.1f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
