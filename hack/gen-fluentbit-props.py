#!/usr/bin/env python3
"""Generate tests/data/fluent-bit-5.1.1-props.json, the trimmed Fluent Bit 5.1.1
property table the renderer's unit tests check every emitted key against.

Input: the JSON that `fluent-bit -J` prints for 5.1.1 (every plugin with its
properties). Output: plugin kind, name, and for each property its name, type and
default; descriptions are dropped. Two lists that `fluent-bit -J` does not print
are added by hand, each entry observed in a real 5.1.1 run:
  * "service": the keys of the service section;
  * "output_core": keys every output accepts through the engine rather than the
    plugin's own table (storage.total_limit_size, workers, and host/port/tls.*
    on the AWS outputs, whose tables omit them although `port` and `tls.ca_file`
    work there).

Usage: hack/gen-fluentbit-props.py PLUGINS_JSON [OUT]
Run once per Fluent Bit version; commit the output.
"""
import json
import sys

SERVICE_KEYS = [
    "coro_stack_size", "daemon", "dns.mode", "dns.prefer_ipv4", "dns.prefer_ipv6",
    "dns.resolver", "flush", "grace", "hc_errors_count", "hc_period",
    "hc_retry_failure_count", "health_check", "hot_reload", "http_listen", "http_port",
    "http_server", "log_file", "log_level", "multiline_buffer_limit", "parsers_file",
    "plugins_file", "scheduler.base", "scheduler.cap", "storage.backlog.flush_on_shutdown",
    "storage.backlog.mem_limit", "storage.checksum", "storage.delete_irrecoverable_chunks",
    "storage.max_chunks_up", "storage.metrics", "storage.path", "storage.sync",
    "storage.trim_files", "storage.type", "streams_file",
]

OUTPUT_CORE = [
    {"name": "storage.total_limit_size", "type": "size", "default": None},
    {"name": "workers", "type": "integer", "default": None},
    {"name": "host", "type": "string", "default": None},
    {"name": "port", "type": "integer", "default": None},
    {"name": "tls", "type": "boolean", "default": "off"},
    {"name": "tls.verify", "type": "boolean", "default": "on"},
    {"name": "tls.ca_file", "type": "string", "default": None},
]

PARSER_KEYS = ["name", "format", "regex", "time_key", "time_format", "time_keep",
               "types", "decode_field", "skip_empty_values", "time_strict"]
MULTILINE_PARSER_KEYS = ["name", "type", "parser", "key_content", "flush_timeout", "rules"]


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        src = json.load(f)
    out = {
        "fluent_bit_version": src["fluent-bit"]["version"],
        "service": sorted(SERVICE_KEYS),
        "output_core": OUTPUT_CORE,
        "parser": PARSER_KEYS,
        "multiline_parser": MULTILINE_PARSER_KEYS,
        "plugins": [],
    }
    for kind in ("inputs", "filters", "outputs"):
        for p in src[kind]:
            props = []
            seen = set()
            for group in p["properties"].values():
                for o in group:
                    if o["name"].lower() in seen:
                        continue
                    seen.add(o["name"].lower())
                    props.append({"name": o["name"], "type": o["type"],
                                  "default": o["default"]})
            out["plugins"].append({"kind": kind[:-1], "name": p["name"],
                                   "properties": props})
    text = json.dumps(out, indent=None, separators=(",", ":"), sort_keys=True)
    text = text.replace('{"kind"', '\n{"kind"') + "\n"
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
