#!/usr/bin/env bash
# Starts the AWS test servers on 127.0.0.1: kinesalite (Kinesis) and s3rver (S3)
# from $LP_TOP/.deps/npm/node_modules, and the signature-checking fakes
# (tests/aws/fakeaws.py: STS, Firehose, CloudWatch Logs, an S3 subset, IMDSv2,
# Pod Identity). Writes DIR/ports.json ({"kinesalite": port, ...}).
#
#   servers.sh start DIR OWNER_PID   start all; a watchdog stops them when
#                                    OWNER_PID exits, and each server also
#                                    exits by itself after LP_AWS_LIFETIME s
#   servers.sh stop DIR              stop all
#   servers.sh stop-one DIR NAME     stop kinesalite or s3rver
#   servers.sh start-one DIR NAME    start it again on the same port
set -u
top=${LP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
mods="$top/.deps/npm/node_modules"
life=${LP_AWS_LIFETIME:-600}
py=/usr/bin/python3
[ -x "$py" ] || py=python3

free_port() {
	"$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # port: bounded wait until it accepts connections (bash's /dev/tcp:
	# a refused loopback connect returns at once, no interpreter started per try)
	for _ in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

start_kinesalite() { # dir port
	NODE_PATH="$mods" timeout "$life" node -e '
		const k = require("kinesalite");
		const s = k({createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 50});
		s.listen(Number(process.argv[1]), "127.0.0.1", () => console.log("kinesalite ready"));
	' "$2" >>"$1/kinesalite.log" 2>&1 &
	echo $! >"$1/kinesalite.pid"
}

start_s3rver() { # dir port
	mkdir -p "$1/s3data"
	timeout "$life" node "$mods/s3rver/bin/s3rver.js" -d "$1/s3data" -a 127.0.0.1 -p "$2" --silent \
		>>"$1/s3rver.log" 2>&1 &
	echo $! >"$1/s3rver.pid"
}

port_of() { # dir name
	"$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/ports.json" "$2"
}

running() { # pid: alive and not a zombie (our servers are init's children once
	# start returned, and an init may reap late or never: kill -0 succeeds on a zombie)
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case "$st" in Z*) return 1 ;; esac
}

stop_pid() { # pidfile
	[ -f "$1" ] || return 0
	local p
	p=$(cat "$1")
	kill "$p" 2>/dev/null
	for _ in $(seq 1 30); do running "$p" || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
	pkill -9 -P "$p" 2>/dev/null
	rm -f "$1"
}

cmd=${1:-}
dir=${2:-}
[ -n "$dir" ] || { echo "usage: $0 start|stop|stop-one|start-one DIR ..." >&2; exit 2; }
case "$cmd" in
start)
	owner=${3:-$PPID}
	mkdir -p "$dir"
	[ -d "$mods/kinesalite" ] && [ -d "$mods/s3rver" ] ||
		{ echo "kinesalite/s3rver not installed in $mods (run make deps)" >&2; exit 1; }
	timeout "$life" "$py" "$top/tests/aws/fakeaws.py" --ports-file "$dir/fakes.json" \
		--lifetime "$life" >>"$dir/fakes.log" 2>&1 &
	echo $! >"$dir/fakes.pid"
	kp=$(free_port)
	sp=$(free_port)
	start_kinesalite "$dir" "$kp" # both start at once, then are waited for
	start_s3rver "$dir" "$sp"
	wait_port "$kp" || { echo "kinesalite did not start" >&2; exit 1; }
	wait_port "$sp" || { echo "s3rver did not start" >&2; exit 1; }
	for _ in $(seq 1 100); do [ -f "$dir/fakes.json" ] && break; sleep 0.1; done
	[ -f "$dir/fakes.json" ] || { echo "fakes did not start" >&2; exit 1; }
	"$py" -c 'import json,sys
d=json.load(open(sys.argv[1])); d["kinesalite"]=int(sys.argv[2]); d["s3rver"]=int(sys.argv[3])
json.dump(d, open(sys.argv[4] + ".tmp", "w"))' "$dir/fakes.json" "$kp" "$sp" "$dir/ports.json"
	mv "$dir/ports.json.tmp" "$dir/ports.json"
	# watchdog: stop everything when the owner goes away (even on a crash)
	(
		while kill -0 "$owner" 2>/dev/null && [ -f "$dir/ports.json" ]; do sleep 1; done
		for n in kinesalite s3rver fakes; do stop_pid "$dir/$n.pid"; done
		# the owner died without stopping us: its temporary directory goes too
		kill -0 "$owner" 2>/dev/null || [ -z "${LP_AWS_RMDIR:-}" ] || rm -rf "$dir"
	) >/dev/null 2>&1 &
	echo $! >"$dir/watchdog.pid"
	;;
stop)
	for n in kinesalite s3rver fakes watchdog; do stop_pid "$dir/$n.pid"; done
	rm -f "$dir/ports.json"
	;;
stop-one)
	stop_pid "$dir/$3.pid"
	;;
start-one)
	p=$(port_of "$dir" "$3")
	"start_$3" "$dir" "$p"
	wait_port "$p" || { echo "$3 did not start on port $p" >&2; exit 1; }
	;;
*)
	echo "unknown command $cmd" >&2
	exit 2
	;;
esac
exit 0
