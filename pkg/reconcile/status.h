/* pkg/reconcile/status: conditions of LogPipelines and LogOutputs (pure: no
 * I/O). What the controller knows about a resource ("facts") becomes a list of
 * conditions; a compact digest of the observed status tells whether a write is
 * needed at all, so nothing is written when nothing changed.
 *
 * Condition types (DESIGN.md): Valid, ConfigGenerated, AgentsReady, Ready, and
 * on AWS outputs CredentialsResolved, Provisioned. Messages name the field.
 */
#ifndef LP_RECONCILE_STATUS_H
#define LP_RECONCILE_STATUS_H
#include <stddef.h>
#include <stdint.h>
#include "../api/api.h"

#define LP_STATUS_MAX_CONDS 8
#define LP_STATUS_MSG_MAX   1024

/* "True", "False", "Unknown". */
const char *lp_cond_status_name(enum lp_cond_status s);

struct lp_cond { /* strings borrowed */
	const char *type;
	enum lp_cond_status status;
	const char *reason;
	const char *message;
};

/* What the controller keeps of an observed status: no JSON tree, just enough
 * to keep lastTransitionTime and to tell whether a write is needed (128
 * bytes per resource, digests as bytes, no padding: 20,000 resources at
 * scale-10k). */
struct lp_status_seen {
	int64_t observed_generation; /* -1 when absent */
	/* c[i]'s lastTransitionTime, seconds since the epoch (0: none; 32 bits
	 * hold times up to 2106) */
	uint32_t ltt[LP_STATUS_MAX_CONDS];
	struct {
		unsigned char type;   /* index in the known condition types */
		unsigned char status; /* enum lp_cond_status */
	} c[LP_STATUS_MAX_CONDS];
	/* first 128 bits of lp_status_digest of what was observed (has_digest 1;
	 * 0 when it could not be computed for want of memory: differs always) */
	unsigned char digest[16];
	char extra_digest[17]; /* lp_status_extra_digest of the observed status, "" when none */
	unsigned char config_hash[32]; /* status.configHash when it is 64 hex digits */
	unsigned char has_config_hash;
	unsigned char has_digest;
	unsigned char present; /* the object had a status with conditions */
	unsigned char n;       /* conditions of our types kept in c[] */
};

/* The status fields besides observedGeneration and conditions that the
 * controller writes: target (AWS outputs), configHash and outputs
 * (pipelines), pipelines and pipelineCount (outputs), problems and
 * problemCount (both). NULL-terminated. */
extern const char *const lp_status_extra_keys[];
/* problems[] and pipelines[] list at most this many, with a count of all */
#define LP_STATUS_MAX_LISTED 16

/* First 64 bits (hex) of the SHA-256 of the canonical JSON (sorted keys,
 * compact) of the lp_status_extra_keys members of st that are present and not
 * null; "" when there are none (or st is not an object). */
void lp_status_extra_digest(char out[17], const json_t *st);

/* Reads status (the object's "status", may be NULL) into *out. Never fails:
 * malformed parts are treated as absent (a write will then fix them). */
void lp_status_seen_parse(struct lp_status_seen *out, const json_t *status);

/* The observed status of condition type (LP_COND_*), or -1 when absent. */
int lp_status_seen_get(const struct lp_status_seen *seen, const char *type);

/* Hex SHA-256 over observedGeneration and each condition's type, status,
 * reason and message, in type order (lastTransitionTime is not included). */
void lp_status_digest(char out[65], int64_t generation, const struct lp_cond *c, size_t n);

/* 1 when writing {generation, c} would change what seen describes. */
int lp_status_differs(const struct lp_status_seen *seen, int64_t generation,
                      const struct lp_cond *c, size_t n);

/* A new status object {observedGeneration, conditions[]} (conditions sorted by
 * type), each lastTransitionTime kept from seen when that type's status did not
 * change, else now (RFC 3339). seen may be NULL. NULL on no memory. */
json_t *lp_status_new(const struct lp_status_seen *seen, int64_t generation,
                      const struct lp_cond *c, size_t n, const char *now);

/* ---------- facts -> conditions ---------- */

/* Rollout state of the shipper DaemonSet or the aggregator StatefulSet. */
struct lp_rollout {
	int known;            /* the workload was observed */
	int done;             /* rolled out: observedGeneration >= generation and all
	                         pods updated and ready */
	char config_hash[65]; /* pod template logplane.io/config-hash, "" if none */
	char message[200];    /* "DaemonSet logplane-system/x: 2 of 3 pods updated, 1 ready",
	                         "DaemonSet logplane-system/x rolled out" */
};

/* Reads a DaemonSet or StatefulSet (kind from obj) into *out. NULL obj gives
 * known = 0. */
void lp_rollout_parse(struct lp_rollout *out, const json_t *obj);

enum lp_config_state {
	LP_CONFIG_PENDING = 0, /* not rendered / written yet */
	LP_CONFIG_LEFT_OUT,    /* valid, but the renderer left it out (render_*) */
	LP_CONFIG_APPLIED,     /* in the configuration that is written */
	LP_CONFIG_FAILED,      /* writing the configuration failed (config_message) */
	LP_CONFIG_ROLLED_BACK, /* its change came with a configuration the agents did not
	                          become ready with: left out until it changes (render_message) */
	LP_CONFIG_OVER_LIMIT,  /* valid, left out: its namespace is over a limit (render_message) */
};

struct lp_status_facts { /* strings borrowed */
	int64_t generation;
	/* validation: the first problem and how many there are (0 = valid) */
	size_t n_problems;
	const char *problem_field;
	const char *problem_message;
	enum lp_config_state config;
	const char *render_field; /* LP_CONFIG_LEFT_OUT */
	const char *render_message;
	const char *config_message; /* LP_CONFIG_APPLIED: where; LP_CONFIG_FAILED: why */
	/* the agents (shipper, and aggregator when used) run a configuration that
	 * includes this resource's current spec: 1 yes, 0 rolling out, -1 unknown */
	int agents;
	const char *agents_message;
	/* extra conditions (CredentialsResolved, Provisioned), copied as given */
	const struct lp_cond *extra;
	size_t n_extra;
	/* an output no valid LogPipeline routes to: Ready says so */
	int unused;
	/* a pipeline: how many of the outputs it routes to are not Ready, the
	 * first one ("ns/name") and why ("Provisioned=False EndpointUnreachable:
	 * ..."); Ready is then False, reason OutputNotReady */
	size_t n_outputs_down;
	const char *output_down;
	const char *output_down_why;
};

struct lp_status_conds {
	struct lp_cond c[LP_STATUS_MAX_CONDS];
	size_t n;
	/* storage for the messages built here */
	char valid_msg[LP_STATUS_MSG_MAX];
	char config_msg[LP_STATUS_MSG_MAX];
	char agents_msg[LP_STATUS_MSG_MAX];
	char ready_msg[LP_STATUS_MSG_MAX];
};

/* Computes Valid, ConfigGenerated, AgentsReady, the extras and Ready (True
 * only when every other condition is True). out borrows the extras' strings
 * from f. */
void lp_status_conditions(struct lp_status_conds *out, const struct lp_status_facts *f);

/* The condition of type in c (NULL when absent). */
const struct lp_cond *lp_status_find(const struct lp_status_conds *c, const char *type);

#endif
