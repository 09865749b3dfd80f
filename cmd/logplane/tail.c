/* logplane tail: follow the live-tail hub's stream in a terminal.
 *
 * Where the hub is:
 *   - default: through the API server's service proxy, from the user's
 *     kubeconfig (server, CA, bearer token):
 *     wss://<server>/api/v1/namespaces/<hub-ns>/services/http:logplane-hub:8081/proxy/tail
 *     (needs `get services/proxy` on that Service; the chart's logplane-tail
 *     ClusterRole grants exactly that);
 *   - --hub ws://HOST:PORT, e.g. after
 *     `kubectl -n logplane-system port-forward svc/logplane-hub 8081`.
 * Either way the kubeconfig's bearer token (or --token / $LOGPLANE_TOKEN) goes
 * in the subscription message, and the hub checks it with TokenReview and
 * SubjectAccessReview (get pods/log in the namespace): the API server's proxy
 * does not forward the Authorization header, so the token cannot travel there.
 *
 * Output: one line per record, "namespace/pod/container LEVEL message",
 * coloured by level when stdout is a terminal; -o json prints the hub's record
 * objects one per line. Lost records are reported on stderr. */
#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../../pkg/kube/config.h"
#include "../../pkg/util/buf.h"
#include "../../pkg/util/clock.h"
#include "../../pkg/util/mem.h"
#include "cli.h"

#define RX_MAX (16u << 20)

struct tail_opts {
	const char *ns, *pod, *container, *selector, *level, *grep, *regex, *output;
	const char *hub, *kubeconfig, *context, *token, *hub_ns, *hub_svc;
	long limit;
	int color;
};

struct tail {
	struct tail_opts o;
	struct lws_context *ctx;
	struct lws *wsi;
	char *sub; /* the subscription message */
	char auth[4200];
	int use_auth_header;
	struct lp_buf rx;
	long printed;
	int connected, closed, fatal, subscribed, sent;
	atomic_int stop;
	sigset_t sigs;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: logplane tail -n NAMESPACE [--pod POD] [--container NAME] [-l SELECTOR]\n"
	    "                     [--level LEVEL] [--grep TEXT] [--regex RE] [-o text|json]\n"
	    "                     [--hub ws://HOST:PORT] [--kubeconfig FILE] [--context NAME]\n"
	    "                     [--token TOKEN] [--hub-namespace NS] [--hub-service NAME:PORT]\n"
	    "                     [--limit N] [--no-color]\n"
	    "  -n NAMESPACE     namespace to follow (\"*\" for all: needs pods/log everywhere)\n"
	    "  --pod, --container  exact names or globs (web-*)\n"
	    "  -l SELECTOR      pod labels: k=v, k!=v, k, !k, k in (a,b), k notin (a,b)\n"
	    "  --level LEVEL    this level and above: trace, debug, info, warn, error, fatal\n"
	    "  --grep TEXT      the message contains TEXT;  --regex RE  it matches RE\n"
	    "  --hub URL        connect to the hub directly (port-forward) instead of through\n"
	    "                   the API server's service proxy\n"
	    "  --limit N        stop after N records\n");
}

static void sub_set(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static const char *level_color(const char *l)
{
	if (!strcmp(l, "error") || !strcmp(l, "fatal"))
		return "\033[31m";
	if (!strcmp(l, "warn"))
		return "\033[33m";
	if (!strcmp(l, "debug") || !strcmp(l, "trace"))
		return "\033[90m";
	if (!strcmp(l, "info"))
		return "\033[32m";
	return "";
}

/* One message from the hub. */
static void handle(struct tail *t, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *m = json_loadb(text, len, 0, &jerr);
	const char *type = json_string_value(json_object_get(m, "type"));
	char *line;

	if (!type) {
		json_decref(m);
		return;
	}
	if (!strcmp(type, "record")) {
		const char *lvl = json_string_value(json_object_get(m, "level"));
		lvl = lvl ? lvl : "";
		if (!strcmp(t->o.output, "json")) {
			json_object_del(m, "type");
			line = json_dumps(m, JSON_COMPACT);
			if (line)
				printf("%s\n", line);
			free(line);
		} else {
			const char *c = t->o.color ? level_color(lvl) : "";
			printf("%s/%s/%s %s%s%s %s\n",
			       json_string_value(json_object_get(m, "namespace")),
			       json_string_value(json_object_get(m, "pod")),
			       json_string_value(json_object_get(m, "container")), c,
			       *lvl ? lvl : "-", *c ? "\033[0m" : "",
			       json_string_value(json_object_get(m, "message")));
		}
		fflush(stdout);
		if (t->o.limit > 0 && ++t->printed >= t->o.limit)
			atomic_store(&t->stop, 1);
	} else if (!strcmp(type, "dropped")) {
		fprintf(stderr,
		        "logplane tail: %lld records dropped so far (this terminal reads slower "
		        "than they come; narrow the filters)\n",
		        (long long)json_integer_value(json_object_get(m, "dropped")));
	} else if (!strcmp(type, "subscribed")) {
		t->subscribed = 1;
		fprintf(stderr, "logplane tail: following %s\n",
		        *json_string_value(json_object_get(m, "namespace"))
		            ? json_string_value(json_object_get(m, "namespace"))
		            : "every namespace");
	} else if (!strcmp(type, "error")) {
		fprintf(stderr, "logplane tail: %s\n",
		        json_string_value(json_object_get(m, "message")));
		t->fatal = 1;
	}
	json_decref(m);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct tail *t = lws_context_user(lws_get_context(wsi));
	unsigned char **p = in, *end;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (t && t->use_auth_header) {
			end = *p + len;
			if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
			                                 (unsigned char *)t->auth,
			                                 (int)strlen(t->auth), p, end))
				return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		t->connected = 1;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!t->sent) {
			size_t l = strlen(t->sub);
			unsigned char *b = lp_malloc(LWS_PRE + l);
			int w;
			if (!b)
				return -1;
			memcpy(b + LWS_PRE, t->sub, l);
			w = lws_write(wsi, b + LWS_PRE, l, LWS_WRITE_TEXT);
			lp_free(b);
			if (w < (int)l)
				return -1;
			t->sent = 1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lp_buf_add(&t->rx, in, len) != LP_OK) {
			fprintf(stderr, "logplane tail: a message from the hub is over %u bytes\n",
			        RX_MAX);
			return -1;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			handle(t, lp_buf_str(&t->rx), t->rx.len);
			lp_buf_reset(&t->rx);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "logplane tail: cannot connect to the hub: %s\n",
		        in ? (const char *)in : "connection failed");
		t->closed = 1;
		t->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		t->closed = 1;
		t->wsi = NULL;
		return 0;
	default:
		return 0;
	}
	(void)user;
}

static void *sig_thread(void *arg)
{
	struct tail *t = arg;
	int sig = 0;

	sigwait(&t->sigs, &sig);
	atomic_store(&t->stop, 1);
	if (t->ctx)
		lws_cancel_service(t->ctx);
	return NULL;
}

static int arg_val(int argc, char **argv, int *i, const char *s, const char *l, const char **out)
{
	if ((s && !strcmp(argv[*i], s)) || !strcmp(argv[*i], l)) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "logplane tail: %s needs a value\n", argv[*i]);
			exit(2);
		}
		*out = argv[++*i];
		return 1;
	}
	return 0;
}

/* The hub's endpoint: host (inside the URL buffer), port, TLS or not. */
struct tail_ep {
	const char *ads;
	int port;
	int tls;
};

/* Parses the arguments into t->o. Returns -1 to go on, else the exit code
 * (0 after --help, 2 with one line on stderr). */
static int tail_args(struct tail *t, int argc, char **argv)
{
	const char *limit = NULL;
	int nocolor = 0;
	char *endp;

	t->o.output = "text";
	t->o.hub_ns = "logplane-system";
	t->o.hub_svc = "logplane-hub:8081";
	for (int i = 1; i < argc; i++) {
		if (arg_val(argc, argv, &i, "-n", "--namespace", &t->o.ns) ||
		    arg_val(argc, argv, &i, NULL, "--pod", &t->o.pod) ||
		    arg_val(argc, argv, &i, "-c", "--container", &t->o.container) ||
		    arg_val(argc, argv, &i, "-l", "--selector", &t->o.selector) ||
		    arg_val(argc, argv, &i, NULL, "--level", &t->o.level) ||
		    arg_val(argc, argv, &i, NULL, "--grep", &t->o.grep) ||
		    arg_val(argc, argv, &i, NULL, "--regex", &t->o.regex) ||
		    arg_val(argc, argv, &i, "-o", "--output", &t->o.output) ||
		    arg_val(argc, argv, &i, NULL, "--hub", &t->o.hub) ||
		    arg_val(argc, argv, &i, NULL, "--kubeconfig", &t->o.kubeconfig) ||
		    arg_val(argc, argv, &i, NULL, "--context", &t->o.context) ||
		    arg_val(argc, argv, &i, NULL, "--token", &t->o.token) ||
		    arg_val(argc, argv, &i, NULL, "--hub-namespace", &t->o.hub_ns) ||
		    arg_val(argc, argv, &i, NULL, "--hub-service", &t->o.hub_svc) ||
		    arg_val(argc, argv, &i, NULL, "--limit", &limit))
			continue;
		if (!strcmp(argv[i], "--no-color")) {
			nocolor = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(
			    stderr,
			    "logplane tail: unknown argument \"%s\" (see logplane tail --help)\n",
			    argv[i]);
			return 2;
		}
	}
	if (!t->o.ns) {
		fprintf(stderr,
		        "logplane tail: -n NAMESPACE is required (\"*\" for every namespace)\n");
		return 2;
	}
	if (strcmp(t->o.output, "text") && strcmp(t->o.output, "json")) {
		fprintf(stderr, "logplane tail: -o: text or json, not \"%s\"\n", t->o.output);
		return 2;
	}
	if (limit) {
		errno = 0;
		t->o.limit = strtol(limit, &endp, 10);
		if (errno || *endp || t->o.limit <= 0) {
			fprintf(stderr, "logplane tail: --limit: a positive number, not \"%s\"\n",
			        limit);
			return 2;
		}
	}
	t->o.color = !nocolor && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	return -1;
}

/* The subscription message (filters and the token) into t->sub; 0 on success. */
static int tail_subscription(struct tail *t, const char *tok)
{
	json_t *sub = json_object();

	sub_set(sub, "namespace", t->o.ns);
	sub_set(sub, "pod", t->o.pod);
	sub_set(sub, "container", t->o.container);
	sub_set(sub, "selector", t->o.selector);
	sub_set(sub, "level", t->o.level);
	sub_set(sub, "grep", t->o.grep);
	sub_set(sub, "regex", t->o.regex);
	sub_set(sub, "token", tok);
	t->sub = sub ? json_dumps(sub, JSON_COMPACT) : NULL;
	json_decref(sub);
	return t->sub ? 0 : -1;
}

/* Where to connect: the --hub URL as given, else the hub Service through the
 * API server's proxy with the kubeconfig's TLS settings. Fills the endpoint
 * (pointers into url) and path. Returns -1 to go on, else the exit code. */
static int tail_endpoint(struct tail *t, const struct lp_kube_config *kc, const char *tok,
                         struct lws_context_creation_info *info, struct lp_buf *url,
                         struct lp_buf *path, struct tail_ep *ep)
{
	const char *prot = NULL, *upath = NULL;

	if (t->o.hub) {
		if (lp_buf_adds(url, t->o.hub))
			return 1;
		if (lws_parse_uri(url->ptr, &prot, &ep->ads, &ep->port, &upath) ||
		    (strcmp(prot, "ws") && strcmp(prot, "wss") && strcmp(prot, "http") &&
		     strcmp(prot, "https"))) {
			fprintf(stderr, "logplane tail: --hub: a ws://HOST:PORT URL, not \"%s\"\n",
			        t->o.hub);
			return 2;
		}
		ep->tls = !strcmp(prot, "wss") || !strcmp(prot, "https");
		return lp_buf_addf(path, "/%s%stail", upath,
		                   *upath && upath[strlen(upath) - 1] != '/' ? "/" : "")
		           ? 1
		           : -1;
	}
	const char *colon = strchr(t->o.hub_svc, ':');
	if (!colon) {
		fprintf(stderr, "logplane tail: --hub-service: NAME:PORT\n");
		return 2;
	}
	if (lp_buf_adds(url, kc->server))
		return 1;
	if (lws_parse_uri(url->ptr, &prot, &ep->ads, &ep->port, &upath) || strcmp(prot, "https")) {
		fprintf(stderr, "logplane tail: the kubeconfig's server is not an https URL\n");
		return 1;
	}
	ep->tls = 1;
	if (lp_buf_addf(path, "%s%s/api/v1/namespaces/%s/services/http:%.*s:%s/proxy/tail",
	                *upath ? "/" : "", upath, t->o.hub_ns, (int)(colon - t->o.hub_svc),
	                t->o.hub_svc, colon + 1))
		return 1;
	snprintf(t->auth, sizeof(t->auth), "Bearer %s", tok);
	t->use_auth_header = 1;
	if (kc->ca_data.data) {
		info->client_ssl_ca_mem = kc->ca_data.data;
		info->client_ssl_ca_mem_len = (unsigned)kc->ca_data.len;
	} else if (kc->ca_file) {
		info->client_ssl_ca_filepath = kc->ca_file;
	}
	if (kc->cert_data.data && kc->key_data.data) {
		info->client_ssl_cert_mem = kc->cert_data.data;
		info->client_ssl_cert_mem_len = (unsigned)kc->cert_data.len;
		info->client_ssl_key_mem = kc->key_data.data;
		info->client_ssl_key_mem_len = (unsigned)kc->key_data.len;
	} else if (kc->cert_file && kc->key_file) {
		info->client_ssl_cert_filepath = kc->cert_file;
		info->client_ssl_private_key_filepath = kc->key_file;
	}
	return -1;
}

/* Connects, serves until stopped, reconnects (spaced out) while it ever
 * worked. Returns the exit code. */
static int tail_run(struct tail *t, const struct tail_ep *ep, const char *path)
{
	struct lws_client_connect_info cc;
	int attempts = 0;

	while (!atomic_load(&t->stop)) {
		uint64_t wait_until;
		memset(&cc, 0, sizeof(cc));
		cc.context = t->ctx;
		cc.address = ep->ads;
		cc.port = ep->port;
		cc.path = path;
		cc.host = ep->ads;
		cc.origin = ep->ads;
		cc.ssl_connection = ep->tls ? LCCSCF_USE_SSL : 0;
		cc.pwsi = &t->wsi;
		t->closed = t->connected = t->sent = 0;
		if (!lws_client_connect_via_info(&cc))
			t->closed = 1;
		while (!t->closed && !atomic_load(&t->stop))
			lws_service(t->ctx, 200);
		if (t->fatal)
			return 1;
		if (atomic_load(&t->stop))
			break;
		/* dropped or not reachable: try again, spaced out, as long as it ever worked */
		if (!t->subscribed && ++attempts >= 3)
			return 1;
		fprintf(stderr, "logplane tail: connection lost; reconnecting\n");
		wait_until = lp_clock_mono_ms() + 1000;
		while (lp_clock_mono_ms() < wait_until && !atomic_load(&t->stop))
			usleep(50000); /* nothing to serve while disconnected */
	}
	return 0;
}

int lp_cli_tail(int argc, char **argv)
{
	static const struct lws_protocols protocols[] = {
	    {"logplane-tail", callback, 0, 65536, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
	struct tail t;
	struct tail_ep ep = {0};
	struct lws_context_creation_info info;
	struct lp_kube_config *kc = NULL;
	struct lp_buf msg, path, url;
	const char *tok = NULL;
	pthread_t st;
	int rc = 1;

	memset(&t, 0, sizeof(t));
	rc = tail_args(&t, argc, argv);
	if (rc >= 0)
		return rc;
	rc = 1;
	lp_buf_init(&msg, 4096);
	lp_buf_init(&path, 4096);
	lp_buf_init(&url, 4096);
	lp_buf_init(&t.rx, RX_MAX);

	/* the credentials: --token, $LOGPLANE_TOKEN, else the kubeconfig's */
	if (lp_kube_config_from_kubeconfig(&kc, t.o.kubeconfig, t.o.context, &msg) != LP_OK) {
		if (!t.o.hub) {
			fprintf(stderr, "logplane tail: kubeconfig: %s\n", lp_buf_str(&msg));
			goto out;
		}
		kc = NULL;
	}
	tok = t.o.token ? t.o.token : getenv("LOGPLANE_TOKEN");
	if (!tok && kc)
		tok = lp_kube_config_token(kc, lp_clock_mono_ms());
	if (!tok) {
		fprintf(stderr,
		        "logplane tail: no bearer token: the kubeconfig user has none (client "
		        "certificates cannot be reviewed by the hub); pass --token\n");
		goto out;
	}
	if (tail_subscription(&t, tok))
		goto out;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = &t;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	rc = tail_endpoint(&t, kc, tok, &info, &url, &path, &ep);
	if (rc >= 0)
		goto out;
	rc = 1;

	sigemptyset(&t.sigs);
	sigaddset(&t.sigs, SIGINT);
	sigaddset(&t.sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &t.sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	atomic_init(&t.stop, 0);
	lws_set_log_level(0, NULL);
	t.ctx = lws_create_context(&info);
	if (!t.ctx) {
		fprintf(stderr,
		        "logplane tail: cannot set up the WebSocket client (TLS settings?)\n");
		goto out;
	}
	if (pthread_create(&st, NULL, sig_thread, &t) != 0)
		goto out;
	pthread_detach(st);
	rc = tail_run(&t, &ep, lp_buf_str(&path));
out:
	if (t.ctx)
		lws_context_destroy(t.ctx);
	if (t.sub) {
		/* it holds the bearer token: cleared in a way no compiler drops */
		OPENSSL_cleanse(t.sub, strlen(t.sub));
		free(t.sub);
	}
	OPENSSL_cleanse(t.auth, sizeof(t.auth));
	lp_kube_config_free(kc);
	lp_buf_free(&msg);
	lp_buf_free(&path);
	lp_buf_free(&url);
	lp_buf_free(&t.rx);
	return rc;
}
