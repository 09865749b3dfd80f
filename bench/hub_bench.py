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
from fakeslack import FakeSlack  # noqa: E402
from hublib import FluentBitHttp, FluentBitWebsocket, Hub, WSClient, rec  # noqa: E402

N = int(os.environ.get("BENCH_HUB_RECORDS", "100000"))
SUBS = int(os.environ.get("BENCH_HUB_SUBSCRIBERS", "10"))
IDLE = int(os.environ.get("BENCH_HUB_IDLE_SUBS", "500"))
ALERTS = int(os.environ.get("BENCH_HUB_ALERTS", "30"))
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


def letters(i):
    w = ""
    while True:
        w += chr(97 + i % 26)
        i //= 26
        if not i:
            return w


def alert_latency():
    """Alert latency: one record of a new kind (a new group posts at once) sent as
    the rendered http output sends it, to the Slack post at a fake HTTPS webhook
    on 127.0.0.1; ALERTS kinds one after another, median and max in ms."""
    fs = FakeSlack()
    hub = None
    try:
        tfile = os.path.join(os.path.dirname(fs.ca), "targets.json")
        with open(tfile, "w") as f:
            json.dump({"targets": [{"namespace": "logplane-system", "name": "bench", "webhook": fs.url("/hook/b"),
                                    "windowSeconds": 60, "maxPerMinute": 600}]}, f)
        hub = Hub(args=["--alerts-file", tfile, "--alerts-ca", fs.ca], binary=os.path.join(BIN, "logplane-hub"))
        agent = FluentBitHttp(hub.port, "/alert/logplane-system/bench")
        lat = []
        for i in range(ALERTS):
            kind = "failure kind %s" % letters(i)
            n0 = len(fs.delivered("/hook/b"))
            t0 = time.time()
            agent.flush([rec("team-a", "api-0", kind, "error")])
            deadline = t0 + 10
            while len(fs.delivered("/hook/b")) <= n0 and time.time() < deadline:
                time.sleep(0.001)
            got = [t for t, x in fs.delivered("/hook/b")[n0:] if kind in x]
            if got:
                lat.append((got[0] - t0) * 1000)
            if i % 9 == 8:  # stay under the burst (maxPerMinute / 6)
                time.sleep(1.0)
        agent.close()
        lat.sort()
        return {"alerts": ALERTS, "alert_posted": len(lat),
                "alert_latency_median_ms": round(lat[len(lat) // 2], 1) if lat else None,
                "alert_latency_max_ms": round(lat[-1], 1) if lat else None}
    finally:
        if hub:
            hub.stop()
        fs.stop()


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
    out.update(alert_latency())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
