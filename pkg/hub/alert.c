/* pkg/hub/alert: grouping, rate limit and Slack posting of alert records (see
 * alert.h). The hub's thread adds records under the mutex; the poster thread
 * owns the targets file, decides what is due and posts with libcurl. */
#include "alert.h"
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include "../util/clock.h"
#include "../util/hash.h"
#include "../util/htab.h"
#include "../util/mem.h"

#define FP_SCAN_MAX     4096u
#define WAIT_MAX_MS     1000u /* the targets file is checked this often */
#define POST_TIMEOUT_S  10L
#define ATTEMPTS_MAX    6u  /* 5xx and transport errors */
#define ATTEMPTS_429    30u /* 429 answers for one message */
#define RETRY_AFTER_MAX 3600L
#define FILE_MAX        (4u << 20)

struct group {
	struct lp_htab_node node;
	char *key; /* pipeline \x1f namespace \x1f workload \x1f fingerprint hash */
	char *pipeline, *ns, *workload, *pod, *level, *message;
	uint64_t count;     /* records not posted yet */
	double first, last; /* record times of those, seconds since the epoch */
	uint64_t due_ms;    /* monotonic: may post from then */
	int held;           /* due and waiting for the rate limit */
};

struct job {
	char *target_key;
	char *webhook;
	char *body;
	uint64_t count; /* records the message counts */
	unsigned attempt, throttled;
};

struct target {
	struct lp_htab_node node;
	char *key; /* namespace \x1f name */
	char *webhook;
	unsigned window_s, per_minute;
	double tokens;
	uint64_t refill_ms, not_before_ms;
	struct lp_htab groups;
	size_t n_groups;
	uint64_t other; /* records of groups not opened: the table was full */
	struct job *retry;
	int seen; /* in the file just read */
};

struct lp_hub_alerts {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int started, stop;
	char *file;
	char *ca_file;
	const struct lp_log *log;
	struct stat file_st; /* of the last read; st_ino 0 = none */
	uint64_t checked_ms;
	struct lp_htab targets;
	struct lp_hub_alert_stats st;
	CURL *curl;
};

static const char *group_key(const struct lp_htab_node *n)
{
	return LP_HTAB_ENTRY(n, struct group, node)->key;
}

static const char *target_key(const struct lp_htab_node *n)
{
	return LP_HTAB_ENTRY(n, struct target, node)->key;
}

/* ---------- pure helpers ---------- */

static int word_char(unsigned char c)
{
	return isalnum(c) || c == '_';
}

lp_err lp_hub_alert_fingerprint(struct lp_buf *out, const char *msg, size_t len)
{
	size_t i = 0;
	lp_err err = LP_OK;

	if (len > FP_SCAN_MAX)
		len = FP_SCAN_MAX;
	while (!err && i < len) {
		size_t j = i, digits = 0, hex = 0;
		if (!word_char((unsigned char)msg[i])) {
			err = lp_buf_addc(out, msg[i++]);
			continue;
		}
		while (j < len && word_char((unsigned char)msg[j])) {
			digits += isdigit((unsigned char)msg[j]) != 0;
			hex += isxdigit((unsigned char)msg[j]) != 0;
			j++;
		}
		if (digits || (hex == j - i && hex >= 8))
			err = lp_buf_addc(out, '#');
		else
			err = lp_buf_add(out, msg + i, j - i);
		i = j;
	}
	return err;
}

/* n characters of s are lower-case letters and digits, with a digit when
 * need_digit: what Kubernetes appends to generated pod names. */
static int generated(const char *s, size_t n, int need_digit)
{
	int digit = 0;

	for (size_t i = 0; i < n; i++) {
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return 0;
		digit |= isdigit((unsigned char)s[i]) != 0;
	}
	return n > 0 && (digit || !need_digit);
}

static const char *last_dash(const char *s, size_t n)
{
	while (n--)
		if (s[n] == '-')
			return s + n;
	return NULL;
}

static int numeric(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

lp_err lp_hub_alert_workload(struct lp_buf *out, const struct lp_hub_fields *f)
{
	static const char *const keys[] = {"app.kubernetes.io/name", "app"};
	const char *pod = f->pod ? f->pod : "";
	size_t n = strlen(pod), tail;
	const char *dash;

	for (size_t i = 0; f->labels && i < 2; i++) {
		json_t *v = json_object_get(f->labels, keys[i]);
		if (json_is_string(v) && json_string_length(v))
			return lp_buf_add(out, json_string_value(v), json_string_length(v));
	}
	/* StatefulSet "db-0"; DaemonSet or Job "x-<5>"; Deployment "api-<hash>-<5>" */
	dash = last_dash(pod, n);
	if (!dash || dash == pod)
		return lp_buf_add(out, pod, n);
	tail = n - (size_t)(dash - pod) - 1;
	if (numeric(dash + 1, tail))
		return lp_buf_add(out, pod, (size_t)(dash - pod));
	if (tail != 5 || !generated(dash + 1, tail, 0))
		return lp_buf_add(out, pod, n);
	n = (size_t)(dash - pod);
	dash = last_dash(pod, n);
	if (dash && dash != pod) {
		tail = n - (size_t)(dash - pod) - 1;
		if (tail >= 6 && tail <= 10 && generated(dash + 1, tail, 1))
			n = (size_t)(dash - pod);
	}
	return lp_buf_add(out, pod, n);
}

/* ---------- targets ---------- */

static void group_free(struct group *g)
{
	if (!g)
		return;
	lp_free(g->key);
	lp_free(g->pipeline);
	lp_free(g->ns);
	lp_free(g->workload);
	lp_free(g->pod);
	lp_free(g->level);
	lp_free(g->message);
	lp_free(g);
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	lp_free(j->target_key);
	if (j->webhook) {
		OPENSSL_cleanse(j->webhook, strlen(j->webhook));
		lp_free(j->webhook);
	}
	lp_free(j->body);
	lp_free(j);
}

/* Pending records of t (open groups, "other", a message awaiting retry). */
static uint64_t target_pending(const struct target *t)
{
	uint64_t n = t->other + (t->retry ? t->retry->count : 0);

	for (size_t i = 0; i < t->groups.nb; i++)
		for (struct lp_htab_node *p = t->groups.b[i]; p; p = p->next)
			n += LP_HTAB_ENTRY(p, struct group, node)->count;
	return n;
}

static void target_free(struct target *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->groups.nb; i++) {
		struct lp_htab_node *p = t->groups.b[i];
		while (p) {
			struct lp_htab_node *next = p->next;
			group_free(LP_HTAB_ENTRY(p, struct group, node));
			p = next;
		}
	}
	lp_htab_free(&t->groups);
	job_free(t->retry);
	lp_free(t->key);
	if (t->webhook) {
		OPENSSL_cleanse(t->webhook, strlen(t->webhook));
		lp_free(t->webhook);
	}
	lp_free(t);
}

/* Posts a target may send at once: ten seconds' worth, at least one. */
static double burst(const struct target *t)
{
	return (double)((t->per_minute + 5) / 6);
}

/* https://host..., or http:// to a loopback host. NULL when fine. */
static const char *webhook_problem(const char *u)
{
	static const char *const loop[] = {"localhost", "127.", "[::1]"};
	size_t n = strlen(u);

	if (n > 2048)
		return "is longer than 2048 bytes";
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			return "contains a space or a control character";
	if (strncmp(u, "https://", 8) == 0 && u[8] && u[8] != '/' && u[8] != ':')
		return NULL;
	if (strncmp(u, "http://", 7) == 0)
		for (size_t i = 0; i < 3; i++)
			if (strncmp(u + 7, loop[i], strlen(loop[i])) == 0)
				return NULL;
	return "is not an https:// URL (plain http only to a loopback host)";
}

static unsigned uint_at(const json_t *o, const char *k, unsigned dflt, unsigned lo, unsigned hi)
{
	const json_t *v = json_object_get(o, k);
	json_int_t i;

	if (!json_is_integer(v))
		return dflt;
	i = json_integer_value(v);
	return i < (json_int_t)lo ? lo : i > (json_int_t)hi ? hi : (unsigned)i;
}

/* One entry of the file into the table (under the lock). */
static lp_err load_target(struct lp_hub_alerts *a, const json_t *e, size_t idx)
{
	const char *ns = json_string_value(json_object_get(e, "namespace"));
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *hook = json_string_value(json_object_get(e, "webhook"));
	const char *why = !ns || !*ns || !name || !*name ? "needs namespace and name"
	                  : !hook                        ? "webhook: missing"
	                                                 : NULL;
	struct lp_buf key;
	struct target *t = NULL;
	struct lp_htab_node *n;
	char *h2;

	if (!why)
		why = webhook_problem(hook); /* the target is named, never the URL */
	if (why) {
		lp_log(a->log, LP_LOG_WARN, NULL, "alerts file: targets[%zu] %s%s%s: webhook %s",
		       idx, ns ? ns : "", "/", name ? name : "", why);
		return LP_OK;
	}
	lp_buf_init(&key, 1024);
	if (lp_buf_addf(&key, "%s\x1f%s", ns, name))
		return LP_ERR_NOMEM;
	n = lp_htab_find(&a->targets, lp_buf_str(&key));
	if (n) {
		t = LP_HTAB_ENTRY(n, struct target, node);
		lp_buf_free(&key);
	} else {
		if (lp_htab_reserve(&a->targets) || !(t = lp_calloc(1, sizeof(*t)))) {
			lp_buf_free(&key);
			return LP_ERR_NOMEM;
		}
		t->key = lp_buf_take(&key);
		lp_htab_init(&t->groups, group_key);
		lp_htab_insert(&a->targets, &t->node);
		t->tokens = -1; /* filled below */
	}
	h2 = lp_strdup(hook);
	if (!h2)
		return LP_ERR_NOMEM;
	if (t->webhook) {
		OPENSSL_cleanse(t->webhook, strlen(t->webhook));
		lp_free(t->webhook);
	}
	t->webhook = h2;
	t->window_s = uint_at(e, "windowSeconds", 60, 1, 86400);
	t->per_minute = uint_at(e, "maxPerMinute", 10, 1, 600);
	if (t->tokens < 0 || t->tokens > burst(t))
		t->tokens = burst(t);
	t->seen = 1;
	return LP_OK;
}

/* Drops the targets the file no longer names, counting what they held. */
static void drop_unseen(struct lp_hub_alerts *a)
{
	for (size_t i = 0; i < a->targets.nb; i++) {
		struct lp_htab_node **slot = &a->targets.b[i];
		while (*slot) {
			struct target *t = LP_HTAB_ENTRY(*slot, struct target, node);
			uint64_t lost;
			if (t->seen) {
				slot = &(*slot)->next;
				continue;
			}
			lost = target_pending(t);
			if (lost) {
				a->st.records_failed += lost;
				lp_log(a->log, LP_LOG_WARN, NULL,
				       "alert target %.*s/%s removed: %llu records not posted",
				       (int)strcspn(t->key, "\x1f"), t->key,
				       t->key + strcspn(t->key, "\x1f") + 1,
				       (unsigned long long)lost);
			}
			lp_htab_unlink(&a->targets, slot);
			target_free(t);
		}
	}
	a->st.targets = a->targets.n;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct lp_buf b;
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	lp_buf_init(&b, FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (lp_buf_add(&b, chunk, n)) {
			fclose(f);
			return NULL;
		}
	fclose(f);
	*len = b.len;
	return b.ptr ? lp_buf_take(&b) : lp_strdup("");
}

struct entry_ns { /* an entry of the targets file: its namespace and place */
	const char *ns;
	size_t idx;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry_ns *x = a, *y = b;
	int r = strcmp(x->ns, y->ns);
	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

struct ns_group { /* entries e[first..end) of one namespace */
	size_t first, end;
};

static int cmp_group(const void *a, const void *b)
{
	const struct ns_group *x = a, *y = b;
	size_t nx = x->end - x->first, ny = y->end - y->first;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return (x->first > y->first) - (x->first < y->first);
}

/* When arr has more than LP_HUB_ALERT_TARGETS entries, keep[i] says which to
 * load: the namespaces in increasing order of their entries, each gets them
 * all when they are at most an equal part of what is left, else that part
 * (its first ones in file order); the operator shares them out the same way
 * (pkg/reconcile/ctrl_shares.c), so a namespace with many targets never
 * stops another's from loading. LP_ERR_NOMEM. */
static lp_err share_targets(const json_t *arr, char *keep)
{
	size_t n = json_array_size(arr), k = 0, left = LP_HUB_ALERT_TARGETS;
	struct entry_ns *e = lp_calloc(n + 1, sizeof(*e));
	struct ns_group *g = lp_calloc(n + 1, sizeof(*g));

	if (!e || !g) {
		lp_free(e);
		lp_free(g);
		return LP_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *ns =
		    json_string_value(json_object_get(json_array_get(arr, i), "namespace"));
		e[i] = (struct entry_ns){ns ? ns : "", i};
	}
	qsort(e, n, sizeof(*e), cmp_entry);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && !strcmp(e[j].ns, e[i].ns); j++)
			;
		g[k++] = (struct ns_group){i, j};
	}
	qsort(g, k, sizeof(*g), cmp_group);
	for (size_t i = 0; i < k; i++) {
		size_t part = left / (k - i), take = g[i].end - g[i].first;
		if (take > part)
			take = part;
		for (size_t x = g[i].first; x < g[i].first + take; x++)
			keep[e[x].idx] = 1;
		left -= take;
	}
	lp_free(e);
	lp_free(g);
	return LP_OK;
}

/* Reads the targets file when it changed (the poster thread, lock held). */
static void reload(struct lp_hub_alerts *a)
{
	struct stat st;
	json_error_t jerr;
	json_t *doc = NULL, *arr;
	char *text = NULL, *keep = NULL;
	size_t len = 0, n_left = 0;

	if (stat(a->file, &st) != 0) {
		if (a->file_st.st_ino && errno == ENOENT) {
			memset(&a->file_st, 0, sizeof(a->file_st));
			lp_log(a->log, LP_LOG_WARN, NULL, "alerts file %s is gone: no targets",
			       a->file);
			for (size_t i = 0; i < a->targets.nb; i++)
				for (struct lp_htab_node *p = a->targets.b[i]; p; p = p->next)
					LP_HTAB_ENTRY(p, struct target, node)->seen = 0;
			drop_unseen(a);
		}
		return;
	}
	if (st.st_ino == a->file_st.st_ino && st.st_dev == a->file_st.st_dev &&
	    st.st_size == a->file_st.st_size && st.st_mtim.tv_sec == a->file_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->file_st.st_mtim.tv_nsec)
		return;
	a->file_st = st;
	text = read_file(a->file, &len);
	doc = text ? json_loadb(text, len, 0, &jerr) : NULL;
	if (text) {
		OPENSSL_cleanse(text, len);
		lp_free(text);
	}
	arr = json_object_get(doc, "targets");
	if (!json_is_array(arr)) {
		lp_log(a->log, LP_LOG_WARN, NULL,
		       "alerts file %s: not {\"targets\": [...]}; keeping the previous targets",
		       a->file);
		goto out;
	}
	if (json_array_size(arr) > LP_HUB_ALERT_TARGETS) {
		keep = lp_calloc(json_array_size(arr), 1);
		if (!keep || share_targets(arr, keep)) {
			lp_log(a->log, LP_LOG_ERROR, NULL,
			       "alerts file: out of memory; keeping the previous targets");
			memset(&a->file_st, 0, sizeof(a->file_st)); /* read it again */
			goto out;
		}
	}
	for (size_t i = 0; i < a->targets.nb; i++)
		for (struct lp_htab_node *p = a->targets.b[i]; p; p = p->next)
			LP_HTAB_ENTRY(p, struct target, node)->seen = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		if (keep && !keep[i]) {
			n_left++;
			continue;
		}
		if (load_target(a, json_array_get(arr, i), i))
			lp_log(a->log, LP_LOG_ERROR, NULL, "alerts file: out of memory");
	}
	if (n_left)
		lp_log(a->log, LP_LOG_WARN, NULL,
		       "alerts file %s: %zu targets, over the %u the hub holds: %zu left out, each "
		       "namespace keeping its first ones up to an equal part",
		       a->file, json_array_size(arr), (unsigned)LP_HUB_ALERT_TARGETS, n_left);
	drop_unseen(a);
	lp_log(a->log, LP_LOG_INFO, NULL, "alerts file %s: %zu targets", a->file, a->targets.n);
out:
	if (doc) { /* the webhooks are secrets: do not leave them in freed memory */
		for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
			json_t *h = json_object_get(json_array_get(arr, i), "webhook");
			if (json_is_string(h))
				OPENSSL_cleanse((void *)json_string_value(h),
				                json_string_length(h));
		}
		json_decref(doc);
	}
	lp_free(keep);
}

/* ---------- records (the hub's thread) ---------- */

static double record_time(json_t *rec)
{
	json_t *d = json_object_get(rec, "date");

	if (json_is_number(d))
		return json_number_value(d);
	return (double)time(NULL);
}

static struct group *group_new(const char *key, const char *pipeline, const struct lp_hub_fields *f,
                               const char *workload)
{
	struct group *g = lp_calloc(1, sizeof(*g));
	const char *level = f->level != LP_HUB_LVL_UNKNOWN ? lp_hub_level_name(f->level)
	                    : *f->level_text               ? f->level_text
	                                                   : "log";
	size_t ml = f->msg_len > LP_HUB_ALERT_MESSAGE_MAX ? LP_HUB_ALERT_MESSAGE_MAX : f->msg_len;

	if (!g)
		return NULL;
	g->key = lp_strdup(key);
	g->pipeline = lp_strdup(pipeline);
	g->ns = lp_strdup(f->ns);
	g->workload = lp_strdup(workload);
	g->pod = lp_strdup(f->pod);
	g->level = lp_strndup(level, 32);
	g->message = lp_strndup(f->msg, ml);
	if (!g->key || !g->pipeline || !g->ns || !g->workload || !g->pod || !g->level ||
	    !g->message) {
		group_free(g);
		return NULL;
	}
	return g;
}

void lp_hub_alerts_record(struct lp_hub_alerts *a, const char *ns, const char *name,
                          const struct lp_hub_fields *f, json_t *rec)
{
	const char *pipeline = json_string_value(json_object_get(rec, "lp_pipeline"));
	struct lp_buf tk, gk, fp, wl;
	struct lp_htab_node *n;
	struct target *t;
	struct group *g = NULL;
	double when = record_time(rec);

	lp_buf_init(&tk, 1024);
	lp_buf_init(&gk, 4096);
	lp_buf_init(&fp, FP_SCAN_MAX * 2);
	lp_buf_init(&wl, 512);
	if (!pipeline)
		pipeline = "";
	if (lp_buf_addf(&tk, "%s\x1f%s", ns, name) ||
	    lp_hub_alert_fingerprint(&fp, f->msg, f->msg_len) || lp_hub_alert_workload(&wl, f) ||
	    lp_buf_addf(&gk, "%.253s\x1f%s\x1f%.253s\x1f%016llx", pipeline, f->ns, lp_buf_str(&wl),
	                (unsigned long long)lp_hash_key(lp_buf_str(&fp))))
		goto out; /* out of memory: the record is counted as unknown below */
	pthread_mutex_lock(&a->mu);
	n = lp_htab_find(&a->targets, lp_buf_str(&tk));
	if (!n) {
		a->st.records_unknown++;
		pthread_mutex_unlock(&a->mu);
		goto out;
	}
	t = LP_HTAB_ENTRY(n, struct target, node);
	a->st.records++;
	n = lp_htab_find(&t->groups, lp_buf_str(&gk));
	if (n) {
		g = LP_HTAB_ENTRY(n, struct group, node);
	} else if (t->n_groups < LP_HUB_ALERT_GROUPS && lp_htab_reserve(&t->groups) == LP_OK &&
	           (g = group_new(lp_buf_str(&gk), pipeline, f, lp_buf_str(&wl))) != NULL) {
		lp_htab_insert(&t->groups, &g->node);
		t->n_groups++;
		pthread_cond_signal(&a->cv); /* a new group posts at once */
	}
	if (!g) {
		t->other++;
	} else {
		if (!g->count || when < g->first)
			g->first = when;
		if (!g->count || when > g->last)
			g->last = when;
		g->count++;
		if (f->pod && strcmp(f->pod, g->pod) != 0) {
			char *p = lp_strdup(f->pod); /* the latest pod is named */
			if (p) {
				lp_free(g->pod);
				g->pod = p;
			}
		}
	}
	pthread_mutex_unlock(&a->mu);
out:
	lp_buf_free(&tk);
	lp_buf_free(&gk);
	lp_buf_free(&fp);
	lp_buf_free(&wl);
}

/* ---------- messages ---------- */

static lp_err add_escaped(struct lp_buf *b, const char *s, size_t max)
{
	lp_err err = LP_OK;
	size_t n = 0;

	for (; !err && *s && n < max; s++, n++) {
		if (*s == '&')
			err = lp_buf_adds(b, "&amp;");
		else if (*s == '<')
			err = lp_buf_adds(b, "&lt;");
		else if (*s == '>')
			err = lp_buf_adds(b, "&gt;");
		else if (*s == '\n' || *s == '\r' || *s == '\t')
			err = lp_buf_addc(b, ' ');
		else if (*s == '`')
			err = lp_buf_addc(b, '\'');
		else
			err = lp_buf_addc(b, *s);
	}
	if (!err && *s)
		err = lp_buf_adds(b, "…");
	return err;
}

static void rfc3339(char out[32], double t)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&s, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "?");
}

/* The Slack message of g (and the target's "other" count), as the JSON body. */
static char *message_body(const struct target *t, const struct group *g)
{
	struct lp_buf b;
	char first[32], last[32];
	json_t *o;
	char *body = NULL;
	lp_err err;

	lp_buf_init(&b, 16384);
	rfc3339(first, g->first);
	rfc3339(last, g->last);
	err = lp_buf_addf(&b, ":rotating_light: *%llu × %s* in `", (unsigned long long)g->count,
	                  g->level);
	err = err ? err : add_escaped(&b, g->ns, 253);
	err = err ? err : lp_buf_adds(&b, "/");
	err = err ? err : add_escaped(&b, *g->workload ? g->workload : "?", 253);
	err = err ? err : lp_buf_adds(&b, "` (pipeline `");
	err = err ? err : add_escaped(&b, *g->pipeline ? g->pipeline : "?", 253);
	err = err ? err : lp_buf_adds(&b, "`)\n> ");
	err = err ? err : add_escaped(&b, g->message, LP_HUB_ALERT_MESSAGE_MAX);
	err = err ? err : lp_buf_adds(&b, "\npod `");
	err = err ? err : add_escaped(&b, *g->pod ? g->pod : "?", 253);
	err = err ? err
	          : lp_buf_addf(&b, "` · first seen %s · last seen %s · window %us", first, last,
	                        t->window_s);
	if (!err && t->other)
		err = lp_buf_addf(&b,
		                  "\n+%llu other records of this target not grouped (more than %u "
		                  "kinds at once)",
		                  (unsigned long long)t->other, LP_HUB_ALERT_GROUPS);
	o = err ? NULL : json_pack("{s:s%}", "text", lp_buf_str(&b), b.len);
	if (o)
		body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	lp_buf_free(&b);
	if (body) { /* own allocator */
		char *copy = lp_strdup(body);
		free(body);
		body = copy;
	}
	return body;
}

static struct job *job_new(const struct target *t, const struct group *g)
{
	struct job *j = lp_calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->target_key = lp_strdup(t->key);
	j->webhook = lp_strdup(t->webhook);
	j->body = message_body(t, g);
	j->count = g->count + t->other;
	if (!j->target_key || !j->webhook || !j->body) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void refill(struct target *t, uint64_t now)
{
	if (t->refill_ms && now > t->refill_ms) {
		t->tokens += (double)(now - t->refill_ms) * t->per_minute / 60000.0;
		if (t->tokens > burst(t))
			t->tokens = burst(t);
	}
	t->refill_ms = now;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* What t may post now, or NULL; *wait shrinks to when something may be due. */
static struct job *pick_target(struct lp_hub_alerts *a, struct target *t, uint64_t now,
                               uint64_t *wait)
{
	struct group *best = NULL;
	struct job *j;

	refill(t, now);
	if (t->not_before_ms > now) {
		*wait = min_u64(*wait, t->not_before_ms - now);
		return NULL;
	}
	if (t->retry) {
		j = t->retry;
		t->retry = NULL;
		return j;
	}
	for (size_t i = 0; i < t->groups.nb; i++) {
		struct lp_htab_node **slot = &t->groups.b[i];
		while (*slot) {
			struct group *g = LP_HTAB_ENTRY(*slot, struct group, node);
			if (!g->count && g->due_ms <= now) { /* a quiet window: closed */
				lp_htab_unlink(&t->groups, slot);
				t->n_groups--;
				group_free(g);
				continue;
			}
			slot = &(*slot)->next;
			if (g->due_ms > now)
				*wait = min_u64(*wait, g->due_ms - now);
			else if (!best || g->due_ms < best->due_ms ||
			         (g->due_ms == best->due_ms && g->first < best->first))
				best = g;
		}
	}
	if (!best)
		return NULL;
	if (t->tokens < 1.0) {
		if (!best->held)
			a->st.rate_limited++;
		best->held = 1;
		*wait = min_u64(*wait, (uint64_t)((1.0 - t->tokens) * 60000.0 / t->per_minute) + 1);
		return NULL;
	}
	j = job_new(t, best);
	if (!j)
		return NULL; /* out of memory: tried again at the next wake */
	t->tokens -= 1.0;
	t->other = 0;
	best->count = 0;
	best->held = 0;
	best->due_ms = now + (uint64_t)t->window_s * 1000u;
	return j;
}

static struct job *pick(struct lp_hub_alerts *a, uint64_t now, uint64_t *wait)
{
	*wait = WAIT_MAX_MS;
	for (size_t i = 0; i < a->targets.nb; i++)
		for (struct lp_htab_node *p = a->targets.b[i]; p; p = p->next) {
			struct job *j =
			    pick_target(a, LP_HTAB_ENTRY(p, struct target, node), now, wait);
			if (j)
				return j;
		}
	return NULL;
}

/* ---------- posting (the poster thread) ---------- */

struct answer {
	long retry_after; /* seconds; -1 none */
};

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct answer *an = arg;
	size_t len = size * n;
	char v[32];

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		size_t l = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		char *end;
		long s;
		memcpy(v, p + 12, l);
		v[l] = 0;
		s = strtol(v, &end, 10);
		if (end != v && s >= 0)
			an->retry_after = s > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : s;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n; /* Slack answers "ok" or a short error: not needed */
}

/* Posts j; returns the HTTP status, or -1 with *cc set on a transport error. */
static long post(struct lp_hub_alerts *a, const struct job *j, struct answer *an, CURLcode *cc)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	long code = -1;

	an->retry_after = -1;
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, j->webhook);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, POST_TIMEOUT_S);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, an);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "logplane-hub");
	if (a->ca_file)
		curl_easy_setopt(a->curl, CURLOPT_CAINFO, a->ca_file);
	*cc = curl_easy_perform(a->curl);
	if (*cc == CURLE_OK)
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	return *cc == CURLE_OK ? code : -1;
}

/* What a post's answer means for j (lock held). j is taken. */
static void settle(struct lp_hub_alerts *a, struct job *j, long code, long retry_after, CURLcode cc,
                   uint64_t now)
{
	struct lp_htab_node *n = lp_htab_find(&a->targets, j->target_key);
	struct target *t = n ? LP_HTAB_ENTRY(n, struct target, node) : NULL;
	const char *key = j->target_key;
	int kl = (int)strcspn(key, "\x1f");
	char why[160];

	if (code >= 200 && code < 300) {
		a->st.posts++;
		a->st.records_posted += j->count;
		job_free(j);
		return;
	}
	if (t && code == 429 && ++j->throttled <= ATTEMPTS_429) {
		a->st.throttled++;
		a->st.retries++;
		t->not_before_ms = now + 1 + (uint64_t)(retry_after > 0 ? retry_after : 1) * 1000u;
		t->retry = j;
		return;
	}
	if (t && (code < 0 || code >= 500) && ++j->attempt < ATTEMPTS_MAX) {
		a->st.retries++;
		t->not_before_ms = now + (1000u << (j->attempt - 1 < 6 ? j->attempt - 1 : 6));
		if (t->not_before_ms > now + 60000u)
			t->not_before_ms = now + 60000u;
		t->retry = j;
		return;
	}
	a->st.posts_failed++;
	a->st.records_failed += j->count;
	if (code >= 0)
		snprintf(why, sizeof(why), "HTTP %ld", code);
	else
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
	lp_log(a->log, LP_LOG_WARN, NULL,
	       "alert target %.*s/%s: a message of %llu records was not delivered: %s%s", kl, key,
	       key + kl + (key[kl] ? 1 : 0), (unsigned long long)j->count, why,
	       t ? "" : " (target removed)");
	job_free(j);
}

static void *poster(void *arg)
{
	struct lp_hub_alerts *a = arg;

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		uint64_t now = lp_clock_mono_ms(), wait = WAIT_MAX_MS;
		struct job *j;
		struct answer an;
		CURLcode cc = CURLE_OK;
		long code;

		if (now - a->checked_ms >= WAIT_MAX_MS) {
			a->checked_ms = now;
			reload(a);
		}
		j = pick(a, now, &wait);
		if (!j) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(wait / 1000u);
			ts.tv_nsec += (long)(wait % 1000u) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->cv, &a->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&a->mu);
		code = post(a, j, &an, &cc);
		pthread_mutex_lock(&a->mu);
		settle(a, j, code, an.retry_after, cc, lp_clock_mono_ms());
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---------- lifecycle ---------- */

lp_err lp_hub_alerts_new(struct lp_hub_alerts **out, const struct lp_hub_alerts_config *cfg,
                         struct lp_buf *msg)
{
	struct lp_hub_alerts *a = lp_calloc(1, sizeof(*a));
	pthread_condattr_t ca;
	lp_err err = LP_OK;

	if (!a)
		return LP_ERR_NOMEM;
	pthread_mutex_init(&a->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	lp_htab_init(&a->targets, target_key);
	a->log = cfg->log;
	a->file = lp_strdup(cfg->targets_file);
	a->ca_file = cfg->ca_file ? lp_strdup(cfg->ca_file) : NULL;
	if (!a->file || (cfg->ca_file && !a->ca_file)) {
		err = LP_ERR_NOMEM;
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(a->curl = curl_easy_init())) {
		err = LP_ERR_IO;
		if (lp_buf_adds(msg, "alerts: cannot start libcurl"))
			err = LP_ERR_NOMEM;
		goto out;
	}
	a->checked_ms = lp_clock_mono_ms();
	reload(a); /* before the thread: the first targets are there at once */
	if (pthread_create(&a->th, NULL, poster, a) != 0) {
		err = LP_ERR_IO;
		if (lp_buf_adds(msg, "alerts: cannot start the poster thread"))
			err = LP_ERR_NOMEM;
		goto out;
	}
	a->started = 1;
out:
	if (err) {
		lp_hub_alerts_free(a);
		return err;
	}
	*out = a;
	return LP_OK;
}

void lp_hub_alerts_free(struct lp_hub_alerts *a)
{
	if (!a)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->stop = 1;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->th, NULL);
	}
	for (size_t i = 0; i < a->targets.nb; i++) {
		struct lp_htab_node *p = a->targets.b[i];
		while (p) {
			struct lp_htab_node *next = p->next;
			target_free(LP_HTAB_ENTRY(p, struct target, node));
			p = next;
		}
	}
	lp_htab_free(&a->targets);
	if (a->curl)
		curl_easy_cleanup(a->curl);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	lp_free(a->file);
	lp_free(a->ca_file);
	lp_free(a);
}

void lp_hub_alerts_stats(struct lp_hub_alerts *a, struct lp_hub_alert_stats *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->st;
	pthread_mutex_unlock(&a->mu);
}
