#!/usr/bin/env python3
"""Alerts through the hub: records of an `alert` LogOutput, sent exactly as the
rendered Fluent Bit http output sends them (POST /alert/<ns>/<name> with the
hub's ingest token, JSON array with "date" as a double), are
grouped (pipeline, namespace, workload, message fingerprint) and posted as a
few Slack messages with counts to a fake HTTPS webhook on 127.0.0.1 whose
self-signed CA the hub trusts through --alerts-ca; a 429 with Retry-After is
honoured and nothing is lost; the rate limit holds messages back and folds
what arrives meanwhile into their counts. A file with more targets than the hub
holds (one namespace's 1,100) is shared out per namespace: another namespace's
target still loads and its alert is posted."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from fakeslack import FakeSlack, counts  # noqa: E402
from hublib import FluentBitHttp, Hub, Report, rec, wait_for  # noqa: E402

T = Report("alerts")
NS = "logplane-system"
TOKEN = "5a" * 32


def agent(hub, name):
    """One agent's rendered http output for alert LogOutput NS/name."""
    return FluentBitHttp(hub.port, "/alert/%s/%s" % (NS, name), token=TOKEN)


def write_targets(path, targets):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"targets": targets}, f)
    os.replace(tmp, path)


def error(i, pod="api-7d9c8b6f5d-x2x4q", pipeline="errors"):
    r = rec("team-a", pod, "timeout after %d ms calling 10.0.%d.%d (request 0x%08x, trace %s)"
            % (100 + i % 900, i % 7, i % 250, i * 2654435761 % (1 << 32),
               "%08x-%04x-4%03x-8%03x-%012x" % (i, i % 65536, i % 4096, i % 4096, i)), "error",
            labels={"pod-template-hash": "7d9c8b6f5d"})
    r["lp_pipeline"] = pipeline
    return r


def posted_total(fs, path):
    return sum((counts(t)[0] or 0) + counts(t)[1] for _, t in fs.delivered(path))


def storm(hub, fs):
    """10,000 matching records in 10 s (100 flushes of 100) plus 50 of another kind."""
    path = "/hook/storm"
    a = agent(hub, "oncall")
    t0 = time.time()
    for k in range(100):
        batch = [error(k * 100 + j) for j in range(100)]
        if k % 2 == 0:
            other = rec("team-a", "db-0", "disk /var/lib/db%d is 9%d%% full" % (k, k % 10), "warn")
            other["lp_pipeline"] = "errors"
            batch.append(other)
        st = a.flush(batch)
        if st != 200:
            T.check("storm_flushes_accepted", False, "flush %d answered %d" % (k, st))
            break
        time.sleep(max(0, t0 + (k + 1) * 0.1 - time.time()))
    wait_for(lambda: posted_total(fs, path) >= 10050, 30)
    time.sleep(1.5)  # nothing more may arrive
    a.close()
    got = fs.delivered(path)
    texts = [t for _, t in got]
    storm_msgs = [t for t in texts if "`team-a/api`" in t]
    disk_msgs = [t for t in texts if "`team-a/db`" in t]
    n_storm = sum(counts(t)[0] for t in storm_msgs)
    n_disk = sum(counts(t)[0] for t in disk_msgs)
    T.check("storm_becomes_a_handful_of_messages", 1 <= len(storm_msgs) <= 5,
            "%d messages for 10,000 records: %s" % (len(storm_msgs), [t[:60] for t in storm_msgs]))
    T.check("storm_counts_add_up", n_storm == 10000 and n_disk == 50 and len(texts) == len(storm_msgs) + len(disk_msgs),
            "api %d (want 10000), db %d (want 50), %d messages" % (n_storm, n_disk, len(texts)))
    first = storm_msgs[0] if storm_msgs else ""
    want = ["× error*", "`team-a/api`", "(pipeline `errors`)", "\n> timeout after", "pod `api-7d9c8b6f5d-x2x4q`",
            "first seen 20", "last seen 20", "window 5s"]
    T.check("message_template", all(w in first for w in want), "missing %s in %r" % (
        [w for w in want if w not in first], first[:400]))
    m = hub.metrics()
    T.check("storm_metrics", m.get("logplane_hub_alert_records_posted_total") == 10050
            and m.get("logplane_hub_alert_records_total") == 10050
            and m.get("logplane_hub_alert_posts_total") == len(texts)
            and m.get("logplane_hub_alert_records_failed_total") == 0,
            "metrics %s" % {k: v for k, v in m.items() if "alert" in k})
    T.check("first_message_fast", got and got[0][0] - t0 < 2.0,
            "first post %.2fs after the first record" % ((got[0][0] - t0) if got else -1))


def throttled(hub, fs):
    """The first post is answered 429 Retry-After: 2: the next waits 2 s, counts add up."""
    path = "/hook/throttled"
    fs.answers[path] = [(429, {"Retry-After": "2"})]
    a = agent(hub, "throttled")
    for k in range(10):
        a.flush([error(k * 50 + j, pipeline="slow") for j in range(50)])
        time.sleep(0.1)
    wait_for(lambda: posted_total(fs, path) >= 500, 20)
    a.close()
    posts = fs.all_posts(path)
    ok = [p for p in posts if p[1] == 200]
    total = posted_total(fs, path)
    gap = (posts[1][0] - posts[0][0]) if len(posts) >= 2 else -1
    T.check("429_retry_after_honoured", len(posts) >= 2 and posts[0][1] == 429 and gap >= 2.0,
            "posts %s, gap after the 429 %.2fs (want >= 2)" % ([(round(t, 2), s) for t, s, _ in posts], gap))
    T.check("429_nothing_lost", total == 500 and posts[1][2] == posts[0][2],
            "delivered counts %d (want 500); retried body same: %s" % (total, len(posts) > 1 and posts[1][2] == posts[0][2]))
    m = hub.metrics()
    T.check("429_counted", m.get("logplane_hub_alert_throttled_total", 0) >= 1, str(m.get("logplane_hub_alert_throttled_total")))
    return len(ok)


def rate_limited(hub, fs):
    """maxPerMinute 60 (burst 10): 12 kinds at once: 10 go, the others wait for
    tokens (one a second) and what arrives meanwhile is in their counts."""
    path = "/hook/limited"
    a = agent(hub, "limited")
    batch = []
    for kind in range(12):
        r = rec("team-a", "w%s-0" % chr(97 + kind), "failure kind %s" % chr(97 + kind), "error")
        r["lp_pipeline"] = "rl"
        batch.append(r)
    a.flush(batch)
    wait_for(lambda: len(fs.delivered(path)) >= 10, 10)
    posted = " ".join(t for _, t in fs.delivered(path))
    held = [k for k in range(12) if "failure kind %s" % chr(97 + k) not in posted]
    kind = held[-1] if held else 11
    a.flush([dict(batch[kind]) for _ in range(20)])  # a kind held back by the limit
    wait_for(lambda: posted_total(fs, path) >= 32, 15)
    a.close()
    got = fs.delivered(path)
    total = posted_total(fs, path)
    times = sorted(t for t, _ in got)
    kind_l = [counts(t)[0] for _, t in got if "failure kind %s" % chr(97 + kind) in t]
    T.check("rate_limit_holds_back", len(got) == 12 and times[-1] - times[0] >= 1.0,
            "%d posts over %.2fs" % (len(got), times[-1] - times[0] if times else 0))
    T.check("rate_limit_folds_into_count", len(held) == 2 and total == 32 and kind_l == [21],
            "total %d (want 32), held kind %s counts %s (want [21]); held %s" % (total, chr(97 + kind), kind_l, held))
    m = hub.metrics()
    T.check("rate_limit_counted", m.get("logplane_hub_alert_rate_limited_total", 0) >= 2,
            str(m.get("logplane_hub_alert_rate_limited_total")))


def namespace_share(hub, fs, tfile):
    """Namespace team-flood names 1,100 targets (more than the hub's 1,024);
    namespace NS one: NS's target loads (with 1,023 of team-flood's) and its
    alert is posted. Before, the whole file was refused."""
    write_targets(tfile, [{"namespace": "team-flood", "name": "f%04d" % i, "webhook": fs.url("/hook/flood/%d" % i)}
                          for i in range(1100)] +
                  [{"namespace": NS, "name": "b-oncall", "webhook": fs.url("/hook/b")}])
    loaded = wait_for(lambda: hub.metrics().get("logplane_hub_alert_targets") == 1024, 10)
    b = FluentBitHttp(hub.port, "/alert/%s/b-oncall" % NS, token=TOKEN)
    st = b.flush([error(7, pipeline="b")])
    got = wait_for(lambda: len(fs.delivered("/hook/b")) >= 1, 10)
    b.close()
    T.check("namespace_share_lets_other_through", loaded and st in (200, 201) and got,
            "targets %s (want 1024), flush %s, posts to the other namespace's hook %d; log %s"
            % (hub.metrics().get("logplane_hub_alert_targets"), st, len(fs.delivered("/hook/b")),
               hub.logtext()[-400:]))


def main():
    fs = FakeSlack()
    hub = None
    try:
        tdir = os.path.dirname(fs.ca)
        tfile = os.path.join(tdir, "targets.json")
        write_targets(tfile, [
            {"namespace": NS, "name": "oncall", "webhook": fs.url("/hook/storm"), "windowSeconds": 5,
             "maxPerMinute": 10},
            {"namespace": NS, "name": "throttled", "webhook": fs.url("/hook/throttled"), "windowSeconds": 3,
             "maxPerMinute": 10},
            {"namespace": NS, "name": "limited", "webhook": fs.url("/hook/limited"), "windowSeconds": 30,
             "maxPerMinute": 60},
            {"namespace": NS, "name": "plain", "webhook": "http://hooks.example.com/secret-path-x1"},
        ])
        tokfile = os.path.join(tdir, "token")
        with open(tokfile, "w") as f:
            f.write(TOKEN + "\n")
        hub = Hub(args=["--alerts-file", tfile, "--alerts-ca", fs.ca, "--ingest-token-file", tokfile])
        ok = wait_for(lambda: hub.metrics().get("logplane_hub_alert_targets") == 3, 10)
        log = hub.logtext()
        T.check("plain_http_target_refused", ok and "targets[3] logplane-system/plain: webhook is not an https:// URL" in log
                and "secret-path-x1" not in log, "targets %s; log %s" % (hub.metrics().get("logplane_hub_alert_targets"), log[-600:]))
        storm(hub, fs)
        throttled(hub, fs)
        rate_limited(hub, fs)
        # records for an unknown alert target are counted, not posted
        a = agent(hub, "nobody")
        a.flush([error(1)])
        T.check("no_token_refused", FluentBitHttp(hub.port, "/alert/%s/oncall" % NS).flush([error(2)]) == 401,
                "an /alert POST without the ingest token was not refused")
        T.check("unknown_target_counted", wait_for(
            lambda: hub.metrics().get("logplane_hub_alert_records_unknown_total") == 1, 10), "")
        a.close()
        namespace_share(hub, fs, tfile)
        # a target removed from the file: the hub drops it on the next check
        write_targets(tfile, [{"namespace": NS, "name": "oncall", "webhook": fs.url("/hook/storm")}])
        T.check("targets_file_reloaded", wait_for(lambda: hub.metrics().get("logplane_hub_alert_targets") == 1, 10),
                str(hub.metrics().get("logplane_hub_alert_targets")))
    finally:
        if hub:
            rc = hub.stop()
            T.check("hub_exit_clean", rc == 0, "rc %s: %s" % (rc, hub.logtext()[-1500:]))
        fs.stop()


if __name__ == "__main__":
    T.run(main)
