/* logplane-hub: the live-tail hub as its own Deployment (see pkg/hub/hub.h).
 *
 * Why not inside the operator: the operator runs leader-elected (one active
 * replica among several), single-threaded on its own loop, and its memory and
 * CPU are sized for resources, not for log traffic. The hub's load follows
 * the log volume and the number of people watching; a storm of records or
 * subscribers must not delay a reconcile, and an operator restart must not cut
 * every live view. It also needs different RBAC (TokenReview and
 * SubjectAccessReview create, nothing else). So it is a separate process and
 * Deployment with its own Service, which the agents address.
 *
 * Every flag is declared once in the table below (name, environment variable,
 * default, help), which drives parsing, defaults and --help. */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../pkg/hub/hub.h"
#include "../../pkg/kube/config.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/log.h"

#define HUB_VERSION "0.1.0"

extern const unsigned char lp_hub_page[];
extern const unsigned long lp_hub_page_len;

enum flag_type { F_STR, F_BOOL, F_UINT };

struct options {
	const char *listen;
	const char *port;
	const char *port_file;
	const char *kubeconfig;
	const char *control_ns;
	const char *queue;
	const char *queue_bytes;
	const char *max_subscribers;
	const char *log_level;
	const char *alerts_file;
	const char *alerts_ca;
	const char *ingest_token_file;
	int insecure_no_auth;
};

struct flag {
	const char *name;
	const char *env;
	enum flag_type type;
	const char *dflt;
	size_t off;
	const char *help;
};

#define OFF(m) offsetof(struct options, m)
static const struct flag flags[] = {
    {"listen", "LOGPLANE_HUB_LISTEN", F_STR, "0.0.0.0", OFF(listen),
     "interface address to listen on"},
    {"port", "LOGPLANE_HUB_PORT", F_UINT, "8081", OFF(port),
     "port of ingest (/ingest/<ns>/<name>), subscriptions (/tail), the page (/), /healthz and "
     "/metrics; 0 = any free port"},
    {"port-file", "LOGPLANE_HUB_PORT_FILE", F_STR, NULL, OFF(port_file),
     "write the bound port to this file once listening (for tests)"},
    {"kubeconfig", "KUBECONFIG", F_STR, NULL, OFF(kubeconfig),
     "kubeconfig for the TokenReview and SubjectAccessReview calls (default: in-cluster)"},
    {"control-namespace", "LOGPLANE_CONTROL_NAMESPACE", F_STR, "logplane-system", OFF(control_ns),
     "namespace of cluster-wide LogOutputs (their records may be of any namespace)"},
    {"queue", "LOGPLANE_HUB_QUEUE", F_UINT, "16384", OFF(queue),
     "records queued per subscriber; a slower subscriber loses the oldest and is told. Keep it "
     "above one agent flush (the livetail output's maxRecordsPerSecond)"},
    {"queue-bytes", "LOGPLANE_HUB_QUEUE_BYTES", F_UINT, "8388608", OFF(queue_bytes),
     "bytes queued per subscriber (the same rule in bytes)"},
    {"max-subscribers", "LOGPLANE_HUB_MAX_SUBSCRIBERS", F_UINT, "256", OFF(max_subscribers),
     "subscribers at once"},
    {"alerts-file", "LOGPLANE_HUB_ALERTS_FILE", F_STR, NULL, OFF(alerts_file),
     "alert targets (JSON the operator writes into the hub's alerts Secret, mounted as a file); "
     "re-read when it changes; unset = no alerts"},
    {"alerts-ca", "LOGPLANE_HUB_ALERTS_CA", F_STR, NULL, OFF(alerts_ca),
     "CA bundle (PEM file) trusted for the alert webhooks instead of the system's"},
    {"log-level", "LOGPLANE_LOG_LEVEL", F_STR, "info", OFF(log_level),
     "lowest level logged: debug, info, warn, error"},
    {"ingest-token-file", "LOGPLANE_HUB_INGEST_TOKEN_FILE", F_STR, NULL, OFF(ingest_token_file),
     "file holding the agents' ingest token (the Secret the operator keeps); /ingest then "
     "requires \"Authorization: Bearer <token>\". Unset: ingest is open (local use only)"},
    {"insecure-no-auth", "LOGPLANE_HUB_INSECURE_NO_AUTH", F_BOOL, "false", OFF(insecure_no_auth),
     "serve every subscriber without checking its token (local development only)"},
};
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: logplane-hub [flags]\n\nflags (environment variable, default):\n");
	for (size_t i = 0; i < N_FLAGS; i++)
		fprintf(f, "  --%-18s %s\n  %-20s (%s, default %s)\n", flags[i].name, flags[i].help,
		        "", flags[i].env, flags[i].dflt ? flags[i].dflt : "unset");
}

static int set_flag(struct options *o, const struct flag *fl, const char *v)
{
	char *end;
	unsigned long n;

	switch (fl->type) {
	case F_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false"))
			return -1;
		*(int *)((char *)o + fl->off) = strcmp(v, "true") == 0;
		return 0;
	case F_UINT:
		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno || end == v || *end || *v == '-' || n > 1000000000)
			return -1;
		/* fallthrough */
	case F_STR:
		*(const char **)((char *)o + fl->off) = v;
		return 0;
	}
	return -1;
}

static int parse(struct options *o, int argc, char **argv)
{
	for (size_t i = 0; i < N_FLAGS; i++) {
		const char *e = getenv(flags[i].env);
		const char *v = e && *e ? e : flags[i].dflt;
		if (v && set_flag(o, &flags[i], v)) {
			fprintf(stderr, "logplane-hub: %s: bad value \"%s\"\n", flags[i].env, v);
			return -1;
		}
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a];
		const struct flag *fl = NULL;
		const char *v = NULL;
		size_t nl;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (strcmp(arg, "--version") == 0) {
			printf("logplane-hub %s\n", HUB_VERSION);
			exit(0);
		}
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "logplane-hub: unexpected argument \"%s\" (see --help)\n",
			        arg);
			return -1;
		}
		arg += 2;
		nl = strcspn(arg, "=");
		for (size_t i = 0; i < N_FLAGS; i++)
			if (strlen(flags[i].name) == nl && strncmp(flags[i].name, arg, nl) == 0)
				fl = &flags[i];
		if (!fl) {
			fprintf(stderr, "logplane-hub: unknown flag --%.*s (see --help)\n", (int)nl,
			        arg);
			return -1;
		}
		if (arg[nl] == '=')
			v = arg + nl + 1;
		else if (fl->type == F_BOOL)
			v = "true";
		else if (a + 1 < argc)
			v = argv[++a];
		if (!v || set_flag(o, fl, v)) {
			fprintf(stderr, "logplane-hub: --%s: bad or missing value\n", fl->name);
			return -1;
		}
	}
	return 0;
}

struct sigctx {
	sigset_t set;
	atomic_int stop;
	struct lp_hub *hub;
};

static void *sig_thread(void *arg)
{
	struct sigctx *s = arg;
	int sig = 0;

	sigwait(&s->set, &sig);
	atomic_store(&s->stop, 1);
	lp_hub_wake(s->hub);
	return NULL;
}

/* Reads the token file into tok (trailing whitespace cut): 0, or -1 with a
 * line logged. */
static int read_token(const struct lp_log *log, const char *path, char *tok, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t len;

	if (!f) {
		lp_log(log, LP_LOG_ERROR, NULL, "--ingest-token-file %s: %s", path,
		       strerror(errno));
		return -1;
	}
	len = fread(tok, 1, n - 1, f);
	fclose(f);
	while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
		len--;
	tok[len] = 0;
	if (len < 16 || len == n - 1) {
		lp_log(log, LP_LOG_ERROR, NULL,
		       "--ingest-token-file %s: the token must be 16 to %zu characters", path,
		       n - 2);
		return -1;
	}
	return 0;
}

static int write_port(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct lp_hub_config cfg = {0};
	struct lp_kube_config *kube = NULL;
	struct lp_hub *hub = NULL;
	struct lp_log log;
	struct lp_buf msg;
	struct sigctx sc;
	char token[256];
	pthread_t st;
	int lvl, rc = 1;
	lp_err err;

	lp_buf_init(&msg, 4096);
	if (parse(&o, argc, argv))
		return 2;
	lvl = lp_log_level_parse(o.log_level);
	if (lvl < 0) {
		fprintf(stderr, "logplane-hub: --log-level: one of debug, info, warn, error\n");
		return 2;
	}
	lp_log_init(&log, stderr, (enum lp_log_level)lvl, 0);

	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL); /* before any thread starts */
	signal(SIGPIPE, SIG_IGN);
	atomic_init(&sc.stop, 0);

	if (!o.insecure_no_auth) {
		err = lp_kube_config_load(&kube, o.kubeconfig, &msg);
		if (err) {
			lp_log(&log, LP_LOG_ERROR, NULL, "kubeconfig: %s", lp_buf_str(&msg));
			goto out;
		}
	} else {
		lp_log(&log, LP_LOG_WARN, NULL,
		       "--insecure-no-auth: every subscriber sees every record; local use only");
	}
	token[0] = 0;
	if (o.ingest_token_file && read_token(&log, o.ingest_token_file, token, sizeof(token))) {
		lp_kube_config_free(kube);
		goto out;
	}
	if (!token[0])
		lp_log(&log, LP_LOG_WARN, NULL,
		       "no --ingest-token-file: any client may send records to /ingest");
	cfg.ingest_token = token;
	cfg.listen_addr = o.listen;
	cfg.port = (int)strtoul(o.port, NULL, 10);
	cfg.control_ns = o.control_ns;
	cfg.queue_len = (size_t)strtoul(o.queue, NULL, 10);
	cfg.queue_bytes = (size_t)strtoul(o.queue_bytes, NULL, 10);
	cfg.max_subscribers = (size_t)strtoul(o.max_subscribers, NULL, 10);
	cfg.kube = kube;
	cfg.alerts_file = o.alerts_file;
	cfg.alerts_ca = o.alerts_ca;
	cfg.page = (const char *)lp_hub_page;
	cfg.page_len = lp_hub_page_len;
	cfg.log = &log;
	err = lp_hub_new(&hub, &cfg, &msg);
	if (err) {
		lp_log(&log, LP_LOG_ERROR, NULL, "%s", lp_buf_str(&msg));
		goto out;
	}
	if (o.port_file && write_port(o.port_file, lp_hub_port(hub))) {
		lp_log(&log, LP_LOG_ERROR, NULL, "--port-file %s: cannot write it", o.port_file);
		goto out;
	}
	lp_log(&log, LP_LOG_INFO, NULL, "listening on %s:%d", o.listen, lp_hub_port(hub));
	sc.hub = hub;
	if (pthread_create(&st, NULL, sig_thread, &sc) != 0)
		goto out;
	pthread_detach(st);
	err = lp_hub_run(hub, &sc.stop);
	rc = err ? 1 : 0;
	lp_log(&log, LP_LOG_INFO, NULL, "stopped");
out:
	OPENSSL_cleanse(token, sizeof(token));
	lp_hub_free(hub);
	lp_buf_free(&msg);
	return rc;
}
