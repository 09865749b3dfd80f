/* pkg/reconcile/desired_int.h: the builder shared by desired.c (owned objects:
 * Secrets, ConfigMaps, RBAC, the entry point) and desired_pods.c (the agents'
 * DaemonSet and the aggregator's StatefulSet with their pod specs). Not for use
 * outside those two files. */
#ifndef LP_RECONCILE_DESIRED_INT_H
#define LP_RECONCILE_DESIRED_INT_H
#include <jansson.h>
#include <stddef.h>
#include "desired.h"

struct cred {            /* one key of the agents' credentials */
	const char *key; /* the env var, a file key (keybuf) or LP_AWS_CREDENTIALS_KEY */
	char keybuf[32];
	const char *b64; /* the value, base64 (borrowed) */
	size_t size;     /* bytes the API server counts: key + decoded value */
	long piece;      /* index into builder.pieces; -1: left out */
};

struct builder {
	const struct lp_desired_input *in;
	const char *ns;
	struct lp_desired d;
	size_t cap;
	char *aws_file_b64; /* the AWS shared credentials file, base64; NULL: none */
	char aws_file_sha[65];
	struct cred *creds; /* every key of the agents' credentials, in render order */
	size_t n_creds;
	char (*pieces)[96]; /* names of the credentials Secrets, content-named */
	size_t n_pieces;
};

/* The chart's agent settings (NULL: built-in defaults). */
const struct lp_agent_settings *dsr_fb_settings(const struct builder *b);
const struct lp_agent_settings *dsr_agg_settings(const struct builder *b);
/* A new {app.kubernetes.io/name: app, instance: logplane} (NULL: no memory). */
json_t *dsr_selector_labels_new(const char *app);
/* A new object {apiVersion, kind, metadata{name, namespace?, labels}}. */
json_t *dsr_object_new(enum lp_owned_kind k, const char *name, const char *ns, const char *app,
                       const char *component);
/* Takes obj (also on failure): stamps the applied hash and appends it. */
lp_err dsr_builder_add(struct builder *b, enum lp_owned_kind k, json_t *obj);
/* The credentials Secret holding key, or NULL when the key was left out. */
const char *dsr_cred_piece(const struct builder *b, const char *key);
/* Adds c's files as content-named ConfigMaps, appending {configMap:{name}}
 * to sources; the first part's name goes to first (may be NULL). */
lp_err dsr_add_configmaps(struct builder *b, const struct lp_rendered_config *c, const char *base,
                          const char *app, json_t *sources, char *first, size_t firstsz);

/* desired_pods.c: the agents' DaemonSet (its pod reads the config parts in
 * sources, borrowed) and the aggregator's Service, PDB and StatefulSet. */
lp_err dsr_add_daemonset(struct builder *b, const struct lp_rendered *r, json_t *sources);
lp_err dsr_add_aggregator(struct builder *b, const struct lp_rendered *r);

#endif
