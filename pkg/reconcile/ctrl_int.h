/* pkg/reconcile/ctrl_int.h: the controller's private state, shared by
 * controller.c and its parts ctrl_*.c (not for use outside pkg/reconcile).
 * Everything here runs on the loop thread, except what an AWS job hands to
 * the worker (see ctrl_outputs.c). */
#ifndef LP_RECONCILE_CTRL_INT_H
#define LP_RECONCILE_CTRL_INT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../kube/gvr.h"
#include "../kube/informer.h"
#include "../kube/workqueue.h"
#include "../util/htab.h"
#include "../render/render.h"
#include "controller.h"
#include "debounce.h"
#include "desired.h"
#include "worker.h"

/* a Secret is at most 1 MiB: its base64 text at most 4/3 of that */
#define LP_SECRET_VALUE_MAX ((size_t)1400 * 1024)

#define KEY_CONFIG          "config"
#define KEY_STATUS_ALL      "status-all"
#define KEY_TRIM            "trim-heap"
#define KEY_CACHE_DROP      "render-cache-drop"
#define KEY_ROLLOUT         "rollout-check"
#define ROLLOUT_TIMEOUT_MS  120000u             /* default --rollout-timeout */
#define AWS_RECHECK_MS      (10u * 60u * 1000u) /* re-verify a target that is fine */
#define AWS_RETRY_MS        30000u              /* retry one that is not (yet) */
#define AWS_CONVERGE_MS     5000u               /* check a converging one again (no hint given) */
#define CONFIG_FAILED_AFTER 3                   /* consecutive failures before statuses say so */
/* Every key's own queue debounce: enough to take the events of one watch read
 * together; the config key has its own debounce (debounce.h) on top. */
#define QUEUE_DEBOUNCE_MS 2u
/* Statuses that would say "rolling out" wait this long: a rollout that is done
 * by then supersedes them, so each resource gets one status write, not two. */
#define STATUS_SETTLE_MS 100u
/* After this many status writes, the heap is trimmed once none came for
 * TRIM_IDLE_MS: each write and its watch event allocate and free a few KiB,
 * and glibc keeps the pages. */
#define TRIM_AFTER_STATUS_WRITES 1000u
#define TRIM_IDLE_MS             1000u
/* The render cache holds the text of every config part (6 MiB at 10,000
 * pipelines): it speeds up a run of changes and is dropped once no config was
 * computed for this long, so an idle operator does not keep it. */
#define RENDER_CACHE_IDLE_MS 3000u

enum res_kind { RES_PIPELINE = 0, RES_OUTPUT = 1 };
extern const char *const ctrl_res_kind_name[]; /* "LogPipeline", "LogOutput" */

/* ---------- what the caches keep ---------- */

/* What is wrong with a resource, in words: its status's messages and
 * problems list. Most resources have nothing wrong: a side allocation of their
 * facts, made when first needed (ctrl_problems_of). */
struct res_problems {
	char *problem_field; /* validation's first problem (res_facts.n_problems) */
	char *problem_message;
	/* status.problems: [{field, message}] of the first LP_STATUS_MAX_LISTED
	 * problems (validation's, else the renderer's when it left this out) and
	 * how many there are (problem_count); NULL and 0 when none */
	json_t *problems;
	size_t problem_count;
	/* why it is left out: config LP_CONFIG_LEFT_OUT (the renderer's first
	 * problem), LP_CONFIG_ROLLED_BACK, LP_CONFIG_OVER_LIMIT */
	char *render_field;
	char *render_message;
	uint64_t problems_fp; /* of validation's problems: an Event only when they change */
	uint64_t render_fp;   /* of the renderer's problems, for their Events */
};

/* Facts from the last config computation; carried from one cached version
 * of a resource to the next (see ctrl_res_upsert). One per LogPipeline and
 * LogOutput (20,000 at scale-10k: 136 bytes each): laid out without holes, flags as bits,
 * no JSON kept (the status's lists are built when it is written). */
struct res_facts {
	int64_t generation;      /* the generation these facts describe; -1 none */
	uint64_t fingerprint;    /* generation + referenced Secret values */
	uint64_t serial_in;      /* first config serial with this fingerprint */
	struct res_problems *pr; /* what is wrong with it, NULL until something was */
	/* AWS outputs */
	struct lp_ctrl_aws_result *aws; /* last result, NULL until one came */
	uint64_t aws_fp;                /* fingerprint it was computed for */
	uint64_t aws_checked_ms;
	uint64_t cleanup_tried_ms; /* last cleanup attempt (deleting) */
	uint64_t ns_checked_ms;
	/* the version of the resource in the last configuration that ran, kept
	 * (a reference) while the current version is newer and has not run yet:
	 * a rollback renders it instead of the current one */
	struct res_kept *good_k;
	uint64_t bad_fp; /* see bad */
	union {          /* by the kind of the resource */
		/* a LogPipeline: the hash (SHA-256) of the configuration that first
		 * carried its current fingerprint, once applied (has_config_hash 0
		 * before) */
		unsigned char config_hash[32];
		/* a LogOutput: status.pipelines, the valid LogPipelines routing to
		 * it (the first LP_STATUS_MAX_LISTED by namespace and name, each
		 * "name", or "namespace/name" from another namespace), joined with
		 * '\n'; NULL when none; n_feeders counts them all */
		struct {
			char *feeders;
			uint32_t n_feeders;
		};
	};
	uint32_t n_problems; /* validation's (0: valid) */
	enum lp_config_state config;
	unsigned has_config_hash : 1; /* a LogPipeline's */
	unsigned in_config : 1;
	unsigned unused : 1; /* an output no valid pipeline routes to */
	unsigned aws_inflight : 1;
	/* this operator created the target and it is not yet Provisioned:
	 * settings it applies meanwhile finish the creation, not drift */
	unsigned aws_creating : 1;
	unsigned cleanup_done : 1;
	unsigned finalizer_inflight : 1;
	/* while config applications fail: is the namespace terminating? (a GET of
	 * it, at most every AWS_RETRY_MS; see ctrl_outputs_after_failed_config) */
	unsigned ns_terminating : 1;
	unsigned ns_inflight : 1;
	/* rollout guard: this fingerprint (bad_fp) came with a configuration the
	 * agents did not become ready with; left out until the fingerprint changes */
	unsigned bad : 1;
	/* serial_in was set by a change of a referenced Secret's value (the
	 * generation stayed): a value the rollout guard cannot roll back */
	unsigned secret_changed : 1;
	/* over a per-namespace limit in the last computation (ctrl_limits.c):
	 * left out, config LP_CONFIG_OVER_LIMIT, render_message says which */
	unsigned over_limit : 1;
};

struct res_kept { /* one per LogPipeline and LogOutput: no holes */
	int refs; /* the cache holds one; an AWS job may hold another */
	enum res_kind kind;
	int deleting;
	/* written: the first 128 bits of the digest of a status we wrote, until
	 * the next event (written_set 1) */
	unsigned char written_set;
	unsigned char written[16];
	struct lp_pipeline *p;
	struct lp_output *o;
	struct lp_problems parse_probs;
	int64_t generation;
	json_t *finalizers; /* copy of metadata.finalizers or NULL */
	struct res_facts *facts;
	struct lp_status_seen seen;
};

struct owned_kept {
	char hash[65];           /* logplane.io/applied-hash, "" when absent */
	struct lp_rollout *roll; /* DaemonSet / StatefulSet only */
};

struct inf_ctx { /* the arg of one informer's ops */
	struct lp_ctrl *c;
	int which; /* 0 pipelines, 1 outputs, 2 owned (kind in owned_kind), 3 secret */
	enum lp_owned_kind owned_kind;
};
struct secret_watch { /* each its own allocation: c->secret_index links them */
	char *ns;
	char *name; /* NULL: the whole namespace */
	char *key;  /* "ns/name", "ns/" for the whole namespace: the index key */
	struct lp_kube_informer *inf;
	int mark;
	struct lp_htab_node hl; /* in c->secret_index */
};

struct wrote { /* a write whose watch event may not have arrived yet */
	enum lp_owned_kind kind;
	char *name;
	char hash[65];
	char *pre_rv; /* resourceVersion in the cache when we wrote; NULL if absent */
	int deleted;
};

struct call_ctx; /* one asynchronous write in flight */
struct run;      /* one config application in flight */

struct lp_ctrl {
	struct lp_loop *loop;
	struct lp_kube_client *client;
	struct lp_ctrl_opts o;
	char *control_ns, *lease_name, *identity, *fb_image, *agg_image, *nofile_image;
	uint64_t debounce_ms;
	const struct lp_log *log;
	struct inf_ctx res_ctx[2];
	struct lp_kube_informer *res[2];
	struct inf_ctx owned_ctx[LP_OWNED_KIND_COUNT];
	struct lp_kube_informer *owned[LP_OWNED_KIND_COUNT];
	struct secret_watch **secrets;
	size_t n_secrets;
	struct lp_htab secret_index;   /* the secrets by key (pkg/util/htab) */
	uint64_t secret_restarts_gone; /* watch restarts of removed Secret watches */
	struct lp_kube_wq *wq;
	struct lp_kube_events *events;
	struct lp_kube_lease *lease;
	struct lp_worker *worker;
	struct lp_loop_timer *resync;
	int leading;
	int shutting_down;
	struct lp_debounce deb; /* of the config key */
	/* the configuration */
	char cur_hash[65];      /* config hash of the last desired state computed */
	int secret_nomem;       /* a Secret value could not be decoded for want of memory */
	uint64_t serial;        /* bumps when cur_hash changes */
	uint64_t rolled_serial; /* serial the Fluent Bit pods run completely */
	char good_hash[65];     /* config hash of rolled_serial (the last that ran) */
	uint64_t watch_serial;  /* the serial whose rollout the guard waits for, 0 none */
	uint64_t watch_ms;      /* when it was applied */
	int want_aggregator;
	/* the part files of the last render, so that a change re-emits only the
	 * parts it touches; config_compute() only (loop thread) */
	struct lp_render_cache *render_cache;
	struct ctrl_limits *limits; /* per-namespace bounds' cache (ctrl_limits.c), or NULL */
	unsigned config_failures;
	char config_error[256];
	struct wrote *wrote;
	size_t n_wrote;
	struct run *run;        /* in flight, or NULL */
	struct call_ctx *calls; /* every call in flight (detached on free) */
	struct lp_ctrl_stats stats;
	/* [RES_PIPELINE|RES_OUTPUT] by the kind's gauge types x True, False, Unknown (or absent) */
	size_t gauges[2][4][3];
	unsigned status_writes_untrimmed;
	uint64_t last_status_write_ms;
	int trim_queued;
	int cache_drop_queued;
	uint64_t last_config_ms; /* when the last config computation finished */
	uint64_t res_epoch; /* bumps whenever a kept LogPipeline/LogOutput changes or is freed */
	void (*shutdown_done)(void *arg);
	void *shutdown_arg;
};

struct call_ctx {
	struct lp_ctrl *c; /* NULL once the controller is gone */
	struct call_ctx *prev, *next;
	int type; /* CALL_* */
	struct run *run;
	size_t op;
	char *key;
	char digest[65];
	uint64_t started_ms;
};

enum { CALL_APPLY = 1, CALL_DELETE, CALL_STATUS, CALL_FINALIZER };

struct op {
	enum lp_owned_kind kind;
	char *name;
	char hash[65];
	char *pre_rv;
	int is_delete;
	int phase;
	const json_t *obj; /* borrowed from run->d */
};

struct run {
	struct lp_ctrl *c; /* NULL once detached */
	struct lp_desired d;
	struct op *ops;
	size_t n_ops;
	int phase;
	size_t inflight;
	size_t writes;
	uint64_t started_ms; /* lp_clock_mono_ms() when the computation began */
	lp_err err;
	char errmsg[256];
};

/* A walk over an informer's cache collecting the kept objects and their
 * keys (borrowed: valid until the cache changes); see ctrl_collect_fn. */
struct collect {
	struct lp_ctrl *c;
	struct res_kept **v;
	char **keys;
	size_t n, cap;
	lp_err err;
};

struct ref_walk { /* ctrl_ref_fingerprint's arg */
	struct lp_ctrl *c;
	const char *ns;
	lp_err err;
	int unsynced;
	uint64_t fp; /* fingerprint of the referenced values */
};

/* ctrl_rollout.c: the rollout guard */
uint64_t ctrl_res_fingerprint(struct lp_ctrl *c, const struct res_kept *k, const char *ns,
                              lp_err *err);
void ctrl_rollout_watch(struct lp_ctrl *c);
void ctrl_handle_rollout(struct lp_ctrl *c);
void ctrl_rollout_ran(struct lp_ctrl *c);
void ctrl_rollout_keep(struct lp_ctrl *c, struct res_kept *old);

/* controller.c */
__attribute__((format(printf, 6, 7))) void ctrl_logf(struct lp_ctrl *c, enum lp_log_level lvl,
                                                     const char *kind, const char *ns,
                                                     const char *name, const char *fmt, ...);
uint64_t ctrl_now_ms(struct lp_ctrl *c);
struct call_ctx *ctrl_call_new(struct lp_ctrl *c, int type);
void ctrl_call_free(struct call_ctx *x);
void ctrl_enqueue(struct lp_ctrl *c, const char *key);
void ctrl_enqueue_res(struct lp_ctrl *c, enum res_kind kind, const char *key);
void ctrl_note_change(struct lp_ctrl *c);
void ctrl_status_all(struct lp_ctrl *c);
void ctrl_split_key(const char *key, char *ns, size_t nssz, const char **name);
void ctrl_trim_heap(struct lp_ctrl *c);
void ctrl_idle_queue(struct lp_ctrl *c, const char *key, int *queued, uint64_t idle_ms);
int ctrl_idle_since(struct lp_ctrl *c, const char *key, int *queued, uint64_t last_ms,
                    uint64_t idle_ms);
int ctrl_cmp_strp(const void *a, const void *b);
uint64_t ctrl_restarts_of(const struct lp_kube_informer *inf);

/* ctrl_cache.c */
void ctrl_res_unref(struct res_kept *k);
const char *ctrl_res_uid(const struct res_kept *k);
void ctrl_gauges_publish(struct lp_ctrl *c);
void ctrl_res_delete(void *arg, const char *key, void *kept);
void ctrl_any_synced(void *arg);
/* informer ops of LogPipeline/LogOutput (arg: &c->res_ctx[i]) and of the
 * owned kinds (arg: &c->owned_ctx[k]) */
extern const struct lp_kube_informer_ops ctrl_res_ops, ctrl_owned_ops;
int ctrl_collect_fn(void *arg, const char *key, void *kept);

/* ctrl_secrets.c */
int ctrl_secret_has_key(void *ctx, const char *ns, const char *name, const char *key);
const char *ctrl_secret_value(void *ctx, const char *ns, const char *name, const char *key);
int ctrl_secret_allowed(void *ctx, const char *ns, const char *name);
char *ctrl_secret_value_new(void *ctx, const char *ns, const char *name, const char *key,
                            size_t *len);
void ctrl_output_secret_refs(const struct lp_output *o, void (*fn)(void *, const char *),
                             void *arg);
lp_err ctrl_secrets_sync(struct lp_ctrl *c, const struct collect *out, int *unsynced);
/* Stops and frees one Secret watch (NULL-safe; not unlinked from the index). */
void ctrl_secret_watch_free(struct secret_watch *w);
void ctrl_ref_fingerprint(void *arg, const char *name);

/* ctrl_writes.c */
const struct lp_kube_gvr *ctrl_owned_gvr(enum lp_owned_kind k);
const char *ctrl_owned_key(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, char *buf,
                           size_t bufsz);
int ctrl_our_write(struct lp_ctrl *c, enum lp_owned_kind kind, const char *key, const char *hash);
/* 1 when the owned object at key is one we deleted, or are deleting. */
int ctrl_our_delete(struct lp_ctrl *c, enum lp_owned_kind kind, const char *key);
int ctrl_observed(struct lp_ctrl *c, enum lp_owned_kind k, const char *name, const char **hash,
                  const char **rv);
const struct lp_rollout *ctrl_rollout_of(struct lp_ctrl *c, enum lp_owned_kind k, const char *name);
void ctrl_update_rolled(struct lp_ctrl *c);
void ctrl_run_free(struct run *r);
void ctrl_run_next(struct run *r);
lp_err ctrl_run_add_op(struct run *r, enum lp_owned_kind kind, const char *name, const char *hash,
                       const char *pre_rv, int is_delete, const json_t *obj);
lp_err ctrl_run_add_deletes(struct lp_ctrl *c, struct run *r);
void ctrl_rollout_event(struct lp_ctrl *c, enum lp_owned_kind k, const char *name,
                        const char *hash);

/* ctrl_config.c */
struct res_facts *ctrl_facts_of(struct res_kept *k);
/* f's problems to read: an empty set when it has none (f may be NULL). */
const struct res_problems *ctrl_problems(const struct res_facts *f);
/* f's problems to write, allocated when first needed; NULL on no memory. */
struct res_problems *ctrl_problems_of(struct res_facts *f);
void ctrl_config_finished(struct lp_ctrl *c, struct run *r);
void ctrl_handle_config(struct lp_ctrl *c);

/* ctrl_limits.c: per-namespace bounds. Sorts pls and outs (by namespace,
 * creation time, name) and removes those over a limit of c->o, marking them
 * LP_CONFIG_OVER_LIMIT; LP_ERR_NOMEM. Loop thread. */
struct ctrl_limits;
lp_err ctrl_limits_apply(struct lp_ctrl *c, const struct lp_pipeline **pls, size_t *n_pls,
                         const struct lp_output **outs, size_t *n_outs);
/* The bytes bound after the render: when full (the render of pls and outs)
 * is larger than the bound, measures the namespaces and removes the
 * pipelines that do not fit (marked LP_CONFIG_OVER_LIMIT; pls and outs get
 * sorted); *dropped 1 when any went, and the caller renders again. */
lp_err ctrl_limits_bytes(struct lp_ctrl *c, const struct lp_rendered *full,
                         const struct lp_pipeline **pls, size_t *n_pls,
                         const struct lp_output **outs, size_t n_outs, int *dropped);
void ctrl_limits_free(struct ctrl_limits *l); /* NULL-safe */
/* Marks resource kind m left out for a limit (LP_CONFIG_OVER_LIMIT, status
 * message msg; a Warning Event when it was not over one before). */
lp_err ctrl_limits_mark(struct lp_ctrl *c, enum res_kind kind, const struct lp_meta *m,
                        const char *msg);

/* ctrl_shares.c: removes from outs (keeping the order) the outputs beyond
 * their namespace's share of the hub's alert targets or of the agents' AWS
 * credentials file, marked LP_CONFIG_OVER_LIMIT; pls are the valid pipelines
 * (which alert outputs are in use). LP_ERR_NOMEM. Loop thread. */
lp_err ctrl_shares_apply(struct lp_ctrl *c, const struct lp_pipeline *const *pls, size_t n_pls,
                         const struct lp_output **outs, size_t *n_outs);

/* ctrl_outputs.c */
lp_err ctrl_outputs_after_config(struct lp_ctrl *c);
lp_err ctrl_outputs_after_failed_config(struct lp_ctrl *c);

/* ctrl_status.c */
void ctrl_handle_status(struct lp_ctrl *c, const char *wqkey);

#endif
