/* pkg/reconcile/agents: deployment settings of the agents the operator renders
 * (Fluent Bit DaemonSet, aggregator StatefulSet), read from the JSON file the
 * Helm chart mounts (LOGPLANE_AGENT_CONFIG, the <fullname>-agents ConfigMap):
 *
 *   {"fluentBit":  {"image", "imagePullPolicy", "resources", "tolerations",
 *                   "nodeSelector", "priorityClassName",
 *                   "serviceAccountAnnotations", "hostPath", "totalLimitSize"},
 *    "aggregator": {"image", "fluentdImage", "imagePullPolicy", "resources",
 *                   "tolerations", "nodeSelector", "priorityClassName",
 *                   "storageClassName", "storageSize"}}
 *
 * Every key is optional; an absent key keeps the operator's built-in default.
 * An empty string means "none" for priorityClassName and storageClassName
 * (no priority class; the cluster's default storage class). Unknown keys are
 * rejected, so a typo does not pass silently. totalLimitSize is accepted
 * and kept but not applied (each output's spec.delivery.bufferLimit bounds
 * its buffer). */
#ifndef LP_RECONCILE_AGENTS_H
#define LP_RECONCILE_AGENTS_H
#include <jansson.h>
#include <stddef.h>
#include "../util/err.h"

struct lp_agent_settings { /* NULL members: not set (built-in default) */
	char *image;
	char *fluentd_image; /* aggregator only */
	char *image_pull_policy;
	json_t *resources;      /* object */
	json_t *tolerations;    /* array */
	json_t *node_selector;  /* object of strings */
	char *priority_class;   /* "" = none */
	json_t *sa_annotations; /* fluentBit only: object of strings */
	char *host_path;        /* fluentBit only: absolute path */
	char *total_limit_size; /* fluentBit only: outputs' buffer bound without bufferLimit */
	char *storage_class;    /* aggregator only: "" = cluster default */
	char *storage_size;     /* aggregator only: default volume size */
};

struct lp_agent_config {
	struct lp_agent_settings fluent_bit;
	struct lp_agent_settings aggregator;
};

/* Parses the JSON text (len bytes) into *out (free with lp_agent_config_free).
 * On failure *out is untouched and msg (msglen bytes, may be NULL) says what
 * is wrong, naming the field ("fluentBit.tolerations: must be an array").
 * Errors: LP_ERR_PARSE (not JSON, wrong type or value, unknown key),
 * LP_ERR_NOMEM, LP_ERR_INVALID (NULL out or text). */
LP_WUR lp_err lp_agent_config_parse(struct lp_agent_config *out, const char *text, size_t len,
                                    char *msg, size_t msglen);

/* Reads and parses the file at path. Errors as above plus LP_ERR_NOTFOUND /
 * LP_ERR_IO when it cannot be read (msg names the path). */
LP_WUR lp_err lp_agent_config_load(struct lp_agent_config *out, const char *path, char *msg,
                                   size_t msglen);

void lp_agent_config_free(struct lp_agent_config *c); /* NULL-safe; leaves it zeroed */

#endif
