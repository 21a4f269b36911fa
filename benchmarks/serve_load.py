"""Closed-loop load on `mlbudget serve` over loopback: N clients, each on its own keep-alive connection.

Starts the server as its own process (`mlbudget serve --bundle B --port P`), waits for /health,
then runs each concurrency level: every client sends ``--requests`` POST /predict calls back to
back. Reports, per level: sent, answered (any HTTP status), 2xx, errors (4xx/5xx), unanswered
(connection refused/reset/closed without a response), p50/p95 client latency, and the server's
own counts from /metrics.

    .venv/bin/python benchmarks/serve_load.py --bundle BUNDLE --concurrency 20,200 --requests 20 [--repeat 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(bundle: Path, port: int, log_dir: Path | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mlbudget.cli.main", "serve", "--bundle", str(bundle), "--port", str(port)]
    if log_dir is not None:
        cmd += ["--log-dir", str(log_dir), "--flush-seconds", "0.5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not answer /health within 120 s")


def run_level(port: int, body: bytes, clients: int, requests: int) -> dict:
    """``clients`` threads, each with its own connection, ``requests`` calls each; connections opened together."""
    latencies: list[float] = []
    counts = {"sent": 0, "answered": 0, "ok": 0, "errors": 0, "unanswered": 0}
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                counts["sent"] += 1
                if status is None:
                    counts["unanswered"] += 1
                    continue
                counts["answered"] += 1
                counts["ok" if status < 400 else "errors"] += 1
                latencies.append(elapsed)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {
        "clients": clients,
        **counts,
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "wall_s": round(wall, 2),
        "rps": round(counts["answered"] / wall, 1),
    }


def server_counts(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("mlbudget_requests_total", "mlbudget_http_errors_total")):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def demo_body(rows: int = 1) -> bytes:
    from mlbudget.demo.data import make_features

    return json.dumps({"rows": make_features(rows, seed=1).to_dict("records")}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--concurrency", default="20,200")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    proc = start_server(args.bundle, port)
    try:
        body = demo_body()
        results = []
        for rep in range(args.repeat):  # levels interleaved across repetitions
            for clients in (int(c) for c in args.concurrency.split(",")):
                result = {"repeat": rep, **run_level(port, body, clients, args.requests)}
                results.append(result)
                print(json.dumps(result), flush=True)
        print(json.dumps({"server": server_counts(port), "load_avg": os.getloadavg()}), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
