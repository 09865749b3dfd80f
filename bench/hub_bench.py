#!/usr/bin/env python3
"""The live-tail hub's figures for `make bench` (run by bench.py, scenario "hub"):
records per second fanned out to 10 subscribers (`logplane tail` processes, the
release build), the hub's CPU for it, and its memory per subscriber (RSS with
BENCH_HUB_IDLE_SUBS idle subscribers minus RSS with none, divided). Records are
sent as Fluent Bit's websocket output sends them, in flushes of 1,000. Prints one
JSON line."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "hub"))
from hublib import FluentBitWebsocket, Hub, WSClient, rec  # noqa: E402

N = int(os.environ.get("BENCH_HUB_RECORDS", "100000"))
SUBS = int(os.environ.get("BENCH_HUB_SUBSCRIBERS", "10"))
IDLE = int(os.environ.get("BENCH_HUB_IDLE_SUBS", "500"))
BIN = os.path.join(TOP, "bin")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def fast_flush(agent, payload_frames):
    for head, body in payload_frames:
        agent.s.sendall(head)
        agent.s.sendall(body)


def frames(records, batch=1000):
    """Pre-built masked frames (as FluentBitWebsocket.flush builds them), so the
    sender's own cost stays out of the measurement."""
    out = []
    mask = b"\x12\x34\x56\x78"
    for i in range(0, len(records), batch):
        arr = [dict({"date": time.time()}, **r) for r in records[i:i + batch]]
        payload = json.dumps(arr, separators=(",", ":")).encode()
        n = len(payload)
        m = (mask * (n // 4 + 1))[:n]
        body = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        if n < 65536:
            head = bytes([0x81, 126 | 0x80]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x81, 127 | 0x80]) + n.to_bytes(8, "big")
        out.append((head + mask, body))
    return out


def main():
    hub = Hub(args=["--queue", str(N + 1000), "--queue-bytes", str(1 << 29), "--max-subscribers", str(IDLE + SUBS + 10)],
              binary=os.path.join(BIN, "logplane-hub"))
    out = {}
    try:
        time.sleep(0.3)
        rss0 = rss_kib(hub.proc.pid)
        idle = []
        for _ in range(IDLE):
            c = WSClient(hub.port)
            c.send({"namespace": "team-idle"})
            idle.append(c)
        deadline = time.time() + 60
        while hub.metrics().get("logplane_hub_subscribers", 0) < IDLE and time.time() < deadline:
            time.sleep(0.1)
        rss1 = rss_kib(hub.proc.pid)
        out["rss_no_subscribers_kib"] = rss0
        out["rss_idle_subscribers_kib"] = rss1
        out["memory_per_subscriber_kib"] = round((rss1 - rss0) / IDLE, 2)
        for c in idle:
            c.close()
        while hub.metrics().get("logplane_hub_subscribers", 0) > 0 and time.time() < deadline:
            time.sleep(0.1)

        records = [rec("team-a", "web-%d" % (i % 50), "GET /api/items/%d 200 %d ms %s" % (i, i % 900, "x" * 120))
                   for i in range(N)]
        fr = frames(records)
        tails = [subprocess.Popen([os.path.join(BIN, "logplane"), "tail", "--hub", "ws://127.0.0.1:%d" % hub.port,
                                   "-n", "team-a", "--token", "bench", "-o", "json", "--limit", str(N)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(SUBS)]
        while hub.metrics().get("logplane_hub_subscribers", 0) < SUBS and time.time() < deadline + 30:
            time.sleep(0.05)
        agent = FluentBitWebsocket(hub.port, "/ingest/logplane-system/bench")
        c0 = cpu_s(hub.proc.pid)
        t0 = time.monotonic()
        fast_flush(agent, fr)
        t_sent = time.monotonic() - t0
        for p in tails:
            p.wait(600)
        secs = time.monotonic() - t0
        cpu = cpu_s(hub.proc.pid) - c0
        m = hub.metrics()
        agent.close()
        out.update({
            "records": N, "subscribers": SUBS, "seconds": round(secs, 3), "send_seconds": round(t_sent, 3),
            "records_per_s": round(N / secs), "deliveries_per_s": round(N * SUBS / secs),
            "hub_cpu_s": round(cpu, 2), "hub_cpu_us_per_delivery": round(cpu * 1e6 / (N * SUBS), 2),
            "delivered": m.get("logplane_hub_records_out_total"), "dropped": m.get("logplane_hub_records_dropped_total"),
            "tail_exit_codes": sorted({p.returncode for p in tails}),
        })
    finally:
        hub.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
