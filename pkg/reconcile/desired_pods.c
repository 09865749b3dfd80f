/* pkg/reconcile/desired_pods.c: the agents' workloads among the desired
 * objects (see desired.h): the shipper DaemonSet and the aggregator's Service,
 * PodDisruptionBudget and StatefulSet, with their pod specs (containers, env,
 * mounts, ports, probes, security context, the chart's agent settings).
 * Secrets, ConfigMaps, RBAC and the entry point are in desired.c. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../util/mem.h"
#include "desired_int.h"

/* ---------- pod pieces ---------- */

/* env: NODE_NAME, NODE_IP from the downward API, every ${VAR} the config
 * uses from the credentials Secret, and the AWS shared credentials file when
 * there is one (never AWS_ACCESS_KEY_ID: the profiles carry the keys). */
static json_t *env_new(const struct builder *b, const struct lp_rendered *r)
{
	json_t *env = json_pack("[{s:s, s:{s:{s:s}}}, {s:s, s:{s:{s:s}}}]", "name", "NODE_NAME",
	                        "valueFrom", "fieldRef", "fieldPath", "spec.nodeName", "name",
	                        "NODE_IP", "valueFrom", "fieldRef", "fieldPath", "status.hostIP");

	for (size_t i = 0; env && i < r->n_env; i++) {
		const char *piece = dsr_cred_piece(b, r->env[i].var);
		if (!piece)
			continue; /* no value: no reference to a key that is not there */
		if (json_array_append_new(env, json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
		                                         r->env[i].var, "valueFrom", "secretKeyRef",
		                                         "name", piece, "key", r->env[i].var))) {
			json_decref(env);
			return NULL;
		}
	}
	if (env && dsr_cred_piece(b, LP_AWS_CREDENTIALS_KEY) &&
	    json_array_append_new(env,
	                          json_pack("{s:s, s:s}", "name", LP_RENDER_AWS_CREDENTIALS_ENV,
	                                    "value", LP_RENDER_AWS_CREDENTIALS_PATH))) {
		json_decref(env);
		return NULL;
	}
	return env;
}

static json_t *container_security_new(void)
{
	return json_pack("{s:b, s:b, s:{s:[s]}, s:{s:s}}", "allowPrivilegeEscalation", 0,
	                 "readOnlyRootFilesystem", 1, "capabilities", "drop", "ALL",
	                 "seccompProfile", "type", "RuntimeDefault");
}

static json_t *http_probe_new(int initial_delay, int period, int failures)
{
	return json_pack("{s:{s:s, s:s}, s:i, s:i, s:i, s:i}", "httpGet", "path", LP_PROBE_PATH,
	                 "port", "lp-metrics", "initialDelaySeconds", initial_delay,
	                 "periodSeconds", period, "timeoutSeconds", 5, "failureThreshold",
	                 failures);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Directory part of a host glob before its first wildcard ("/opt/app/logs"
 * for "/opt/app/logs/x*.log"); a new string or NULL. */
static char *glob_dir(const char *path)
{
	size_t end = strcspn(path, "*?[{");
	while (end > 0 && path[end - 1] != '/')
		end--;
	if (end > 1)
		end--; /* drop the trailing slash */
	return end ? lp_strndup(path, end) : NULL;
}

static int under_var_log(const char *dir)
{
	return strcmp(dir, "/var/log") == 0 || strncmp(dir, "/var/log/", 9) == 0;
}

/* Adds hostPath mounts for file inputs outside /var/log (sorted, unique). */
static lp_err add_file_mounts(struct builder *b, json_t *volumes, json_t *mounts)
{
	char **dirs = NULL;
	size_t n = 0, cap = 0, vol = 0;
	lp_err err = LP_ERR_NOMEM;

	for (size_t i = 0; i < b->in->n_pipelines; i++) {
		const struct lp_pipeline *p = b->in->pipelines[i];
		for (size_t j = 0; p && j < p->n_files; j++) {
			char *d;
			if (!p->files[j].path || p->files[j].path[0] != '/')
				continue;
			d = glob_dir(p->files[j].path);
			if (!d)
				goto out;
			if (under_var_log(d) || strcmp(d, "/") == 0) {
				lp_free(d);
				continue;
			}
			if (n == cap) {
				char **nd = lp_realloc(dirs, (cap ? cap * 2 : 8) * sizeof(*nd));
				if (!nd) {
					lp_free(d);
					goto out;
				}
				dirs = nd;
				cap = cap ? cap * 2 : 8;
			}
			dirs[n++] = d;
		}
	}
	if (n)
		qsort(dirs, n, sizeof(*dirs), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char vname[32];
		if (i > 0 && strcmp(dirs[i], dirs[i - 1]) == 0)
			continue;
		snprintf(vname, sizeof(vname), "hostfiles-%zu", ++vol);
		if (json_array_append_new(volumes, json_pack("{s:s, s:{s:s}}", "name", vname,
		                                             "hostPath", "path", dirs[i])) ||
		    json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "name", vname,
		                                            "mountPath", dirs[i], "readOnly", 1)))
			goto out;
	}
	err = LP_OK;
out:
	for (size_t i = 0; i < n; i++)
		lp_free(dirs[i]);
	lp_free(dirs);
	return err;
}

/* Files from the credentials Secrets (CA bundles, the AWS file): one
 * projected volume with the file keys of each Secret piece, each key mounted
 * at its path with subPath (the config hash rolls pods when a value changes,
 * so subPath's lack of live updates does not matter). */
static lp_err add_secret_file_mounts(const struct builder *b, const struct lp_rendered *r,
                                     json_t *volumes, json_t *mounts)
{
	json_t *sources = json_array();
	int any = 0;

	if (!sources)
		return LP_ERR_NOMEM;
	for (size_t p = 0; p < b->n_pieces; p++) {
		json_t *items = json_array();
		for (size_t i = r->n_env; items && i < b->n_creds; i++)
			if (b->creds[i].piece == (long)p &&
			    json_array_append_new(items,
			                          json_pack("{s:s, s:s}", "key", b->creds[i].key,
			                                    "path", b->creds[i].key))) {
				json_decref(items);
				items = NULL;
			}
		if (!items)
			goto fail;
		if (json_array_size(items) == 0) {
			json_decref(items);
			continue;
		}
		any = 1;
		if (json_array_append_new(sources, json_pack("{s:{s:s, s:o}}", "secret", "name",
		                                             b->pieces[p], "items", items)))
			goto fail;
	}
	if (!any) {
		json_decref(sources);
		return LP_OK;
	}
	if (json_array_append_new(volumes,
	                          json_pack("{s:s, s:{s:o, s:i}}", "name", "credential-files",
	                                    "projected", "sources", sources, "defaultMode", 0440)))
		return LP_ERR_NOMEM;
	for (size_t i = r->n_env; i < b->n_creds; i++) {
		const char *path = b->creds[i].key == b->creds[i].keybuf
		                       ? r->mounts[i - r->n_env].path
		                       : LP_RENDER_AWS_CREDENTIALS_PATH;
		if (b->creds[i].piece < 0)
			continue;
		if (json_array_append_new(mounts,
		                          json_pack("{s:s, s:s, s:s, s:b}", "name",
		                                    "credential-files", "mountPath", path,
		                                    "subPath", b->creds[i].key, "readOnly", 1)))
			return LP_ERR_NOMEM;
	}
	return LP_OK;
fail:
	json_decref(sources);
	return LP_ERR_NOMEM;
}

/* Container ports: lp-metrics (the prometheus_exporter: Fluent Bit's own
 * metrics, spec.metrics, the probes) and each distinct http input port. */
static json_t *ports_new(struct builder *b)
{
	json_t *ports = json_pack("[{s:s, s:i, s:s}]", "name", "lp-metrics", "containerPort",
	                          LP_METRICS_PORT, "protocol", "TCP");
	int seen[64];
	size_t n_seen = 0;

	for (size_t i = 0; ports && i < b->in->n_pipelines; i++) {
		const struct lp_pipeline *p = b->in->pipelines[i];
		int port, dup = 0;
		char pname[16];
		if (!p || !p->http.enabled)
			continue;
		port = p->http.port ? p->http.port : 9880;
		for (size_t j = 0; j < n_seen; j++)
			dup |= seen[j] == port;
		if (dup || port == LP_METRICS_PORT || n_seen == 64)
			continue;
		seen[n_seen++] = port;
		snprintf(pname, sizeof(pname), "in-%d", port);
		if (json_array_append_new(ports,
		                          json_pack("{s:s, s:i, s:s}", "name", pname,
		                                    "containerPort", port, "protocol", "TCP"))) {
			json_decref(ports);
			return NULL;
		}
	}
	return ports;
}

/* ---------- the open-files helper (docs/delivery.md) ---------- */

/* The soft open-files limit the shipper gets: twice the config's estimate
 * (room for what the estimate leaves out: a connection per output flush in
 * flight, more log files than it assumes on a dense node), rounded up to
 * LP_NOFILE_ROUND. A soft limit above what is used costs nothing. */
static size_t shipper_nofile(size_t need)
{
	size_t n = need * 2 + LP_NOFILE_ROUND - 1;

	n -= n % LP_NOFILE_ROUND;
	return n ? n : LP_NOFILE_ROUND;
}

/* Adds the helper to a pod spec whose first container runs Fluent Bit: an
 * emptyDir, an init container of nofile_image (non-root, read-only root, no
 * capabilities) that installs the helper into it, the read-only mount in the
 * container, and "LP_NOFILE_PATH n --" before the container's command. No
 * helper image: nothing changes. */
static lp_err add_nofile(const struct builder *b, json_t *pod_spec, size_t n)
{
	const char *image = b->in->nofile_image;
	json_t *container = json_array_get(json_object_get(pod_spec, "containers"), 0);
	json_t *cmd = json_object_get(container, "command");
	json_t *init, *vol, *mount, *sec;
	char num[32];
	int bad;

	if (!image || !*image)
		return LP_OK;
	sec = container_security_new();
	if (!sec || !json_is_array(cmd) || json_object_set_new(sec, "runAsNonRoot", json_true()) ||
	    json_object_set_new(sec, "runAsUser", json_integer(65532)) ||
	    json_object_set_new(sec, "runAsGroup", json_integer(65532))) {
		json_decref(sec);
		return LP_ERR_NOMEM;
	}
	snprintf(num, sizeof(num), "%zu", n);
	init = json_pack("[{s:s, s:s, s:s, s:[s, s, s], s:[{s:s, s:s}], s:o, "
	                 "s:{s:{s:s, s:s}, s:{s:s, s:s}}}]",
	                 "name", "install-nofile", "image", image, "imagePullPolicy",
	                 "IfNotPresent", "command", LP_NOFILE_IMAGE_PATH, "--install",
	                 LP_NOFILE_DIR, "volumeMounts", "name", "logplane-bin", "mountPath",
	                 LP_NOFILE_DIR, "securityContext", sec, "resources", "requests", "cpu",
	                 "10m", "memory", "16Mi", "limits", "cpu", "100m", "memory", "16Mi");
	vol = json_pack("{s:s, s:{s:s}}", "name", "logplane-bin", "emptyDir", "sizeLimit", "16Mi");
	mount = json_pack("{s:s, s:s, s:b}", "name", "logplane-bin", "mountPath", LP_NOFILE_DIR,
	                  "readOnly", 1);
	bad = json_object_set_new(pod_spec, "initContainers", init);
	bad |= json_array_append_new(json_object_get(pod_spec, "volumes"), vol);
	bad |= json_array_append_new(json_object_get(container, "volumeMounts"), mount);
	bad |= json_array_insert_new(cmd, 0, json_string("--"));
	bad |= json_array_insert_new(cmd, 0, json_string(num));
	bad |= json_array_insert_new(cmd, 0, json_string(LP_NOFILE_PATH));
	return bad ? LP_ERR_NOMEM : LP_OK;
}

/* ---------- agent settings (the chart's agents file) ---------- */

/* Applies s (may be NULL) to a pod spec and its container: pull policy,
 * resources, tolerations, node selector, priority class ("" removes it). */
static lp_err apply_settings(const struct lp_agent_settings *s, json_t *pod_spec, json_t *container)
{
	int bad = 0;

	if (!s)
		return LP_OK;
	if (s->image_pull_policy)
		bad |= json_object_set_new(container, "imagePullPolicy",
		                           json_string(s->image_pull_policy));
	if (s->resources)
		bad |= json_object_set_new(container, "resources", json_deep_copy(s->resources));
	if (s->tolerations)
		bad |= json_object_set_new(pod_spec, "tolerations", json_deep_copy(s->tolerations));
	if (s->node_selector && json_object_size(s->node_selector))
		bad |=
		    json_object_set_new(pod_spec, "nodeSelector", json_deep_copy(s->node_selector));
	if (s->priority_class && !*s->priority_class)
		json_object_del(pod_spec, "priorityClassName");
	else if (s->priority_class)
		bad |= json_object_set_new(pod_spec, "priorityClassName",
		                           json_string(s->priority_class));
	return bad ? LP_ERR_NOMEM : LP_OK;
}

/* ---------- the shipper DaemonSet ---------- */

lp_err dsr_add_daemonset(struct builder *b, const struct lp_rendered *r, json_t *sources)
{
	const struct lp_agent_settings *as = dsr_fb_settings(b);
	const char *image =
	    b->in->fluentbit_image ? b->in->fluentbit_image : LP_DEFAULT_FLUENTBIT_IMAGE;
	const char *host_dir = as && as->host_path ? as->host_path : LP_STATE_HOST_DIR;
	json_t *ds = NULL, *volumes = NULL, *mounts = NULL, *container, *pod;
	char config_arg[256], open_files[32];

	if (as && as->image)
		image = as->image;
	snprintf(config_arg, sizeof(config_arg), "%s/%s", LP_CONFIG_DIR,
	         r->shipper.n_files ? r->shipper.files[0].name : "fluent-bit.yaml");
	volumes = json_pack("[{s:s, s:{s:O}}, {s:s, s:{s:s}}, {s:s, s:{s:s, s:s}}]", "name",
	                    "config", "projected", "sources", sources, "name", "varlog", "hostPath",
	                    "path", "/var/log", "name", "state", "hostPath", "path", host_dir,
	                    "type", "DirectoryOrCreate");
	mounts =
	    json_pack("[{s:s, s:s, s:b}, {s:s, s:s, s:b}, {s:s, s:s}]", "name", "config",
	              "mountPath", LP_CONFIG_DIR, "readOnly", 1, "name", "varlog", "mountPath",
	              "/var/log", "readOnly", 1, "name", "state", "mountPath", LP_STATE_HOST_DIR);
	if (!volumes || !mounts || add_file_mounts(b, volumes, mounts) ||
	    add_secret_file_mounts(b, r, volumes, mounts))
		goto fail;
	container = json_pack(
	    "{s:s, s:s, s:s, s:[s], s:[s,s], s:o, s:o, s:O, s:o, s:o, s:o, "
	    "s:{s:{s:s, s:s}, s:{s:s}}}",
	    "name", "fluent-bit", "image", image, "imagePullPolicy", "IfNotPresent", "command",
	    "/fluent-bit/bin/fluent-bit", "args", "-c", config_arg, "env", env_new(b, r), "ports",
	    ports_new(b), "volumeMounts", mounts, "livenessProbe", http_probe_new(10, 10, 6),
	    "readinessProbe", http_probe_new(5, 10, 3), "securityContext", container_security_new(),
	    "resources", "requests", "cpu", "50m", "memory", "64Mi", "limits", "memory", "512Mi");
	/* Kubernetes has no pod field for RLIMIT_NOFILE: the open files the
	 * config needs ride on the pod as an annotation (docs/delivery.md) */
	snprintf(open_files, sizeof(open_files), "%zu", r->shipper_open_files);
	pod =
	    json_pack("{s:{s:o, s:{s:s, s:s}}, s:{s:s, s:s, s:i, s:[{s:s}], s:{s:{s:s}}, s:[o], "
	              "s:O}}",
	              "metadata", "labels", dsr_selector_labels_new("fluent-bit"), "annotations",
	              LP_CONFIG_HASH_ANNOTATION, b->d.config_hash, LP_OPEN_FILES_ANNOTATION,
	              open_files, "spec", "serviceAccountName", LP_SHIPPER_NAME,
	              "priorityClassName", "system-node-critical", "terminationGracePeriodSeconds",
	              30, "tolerations", "operator", "Exists", "securityContext", "seccompProfile",
	              "type", "RuntimeDefault", "containers", container, "volumes", volumes);
	if (pod && container &&
	    (apply_settings(as, json_object_get(pod, "spec"), container) != LP_OK ||
	     add_nofile(b, json_object_get(pod, "spec"), shipper_nofile(r->shipper_open_files)))) {
		json_decref(pod);
		pod = NULL;
	}
	ds = dsr_object_new(LP_OWNED_DAEMONSET, LP_SHIPPER_NAME, b->ns, "fluent-bit", "shipper");
	if (!ds || !pod) {
		json_decref(ds);
		json_decref(pod);
		goto fail;
	}
	if (json_object_set_new(ds, "spec", /* (pack takes pod, also when it fails) */
	                        json_pack("{s:{s:o}, s:{s:s, s:{s:i}}, s:o}", "selector",
	                                  "matchLabels", dsr_selector_labels_new("fluent-bit"),
	                                  "updateStrategy", "type", "RollingUpdate",
	                                  "rollingUpdate", "maxUnavailable", 1, "template", pod))) {
		json_decref(ds);
		goto fail;
	}
	json_decref(volumes);
	json_decref(mounts);
	return dsr_builder_add(b, LP_OWNED_DAEMONSET, ds);
fail:
	json_decref(volumes);
	json_decref(mounts);
	return LP_ERR_NOMEM;
}

/* ---------- the aggregator ---------- */

/* Replicas: the largest asked for; storage: from the first pipeline (by
 * namespace/name) that names one; only pipelines of the control namespace
 * count (the aggregator is shared: a tenant only ships through it).
 * Deterministic whatever the input order. */
static void aggregator_sizing(struct builder *b, int *replicas, const char **storage)
{
	const struct lp_pipeline *first = NULL;

	*replicas = 0;
	*storage = dsr_agg_settings(b) && dsr_agg_settings(b)->storage_size
	               ? dsr_agg_settings(b)->storage_size
	               : "10Gi";
	for (size_t i = 0; i < b->in->n_pipelines; i++) {
		const struct lp_pipeline *p = b->in->pipelines[i];
		int r;
		if (!p || !p->aggregator.enabled || !p->meta.ns || strcmp(p->meta.ns, b->ns) != 0)
			continue;
		r = p->aggregator.replicas > 0 ? p->aggregator.replicas : 2;
		if (r > *replicas)
			*replicas = r;
		if (p->aggregator.storage_size &&
		    (!first || lp_meta_cmp(&p->meta, &first->meta) < 0))
			first = p;
	}
	if (*replicas == 0)
		*replicas = 2;
	if (first)
		*storage = first->aggregator.storage_size;
}

lp_err dsr_add_aggregator(struct builder *b, const struct lp_rendered *r)
{
	int fluentd = r->aggregator_engine == LP_ENGINE_FLUENTD;
	const char *image = b->in->aggregator_image;
	const char *conf_dir = fluentd ? "/fluentd/etc" : LP_CONFIG_DIR;
	json_t *sources = json_array(), *svc = NULL, *pdb = NULL, *sts = NULL, *container = NULL,
	       *pod = NULL, *probe = NULL, *cmd = NULL, *mounts = NULL, *volumes = NULL,
	       *ports = NULL;
	const char *storage;
	char conf_path[256];
	int replicas;
	lp_err err = LP_ERR_NOMEM;

	const struct lp_agent_settings *as = dsr_agg_settings(b);

	if (as && fluentd && as->fluentd_image)
		image = as->fluentd_image;
	else if (as && !fluentd && as->image)
		image = as->image;
	if (!image)
		image = fluentd ? LP_DEFAULT_FLUENTD_IMAGE
		                : (b->in->fluentbit_image ? b->in->fluentbit_image
		                                          : LP_DEFAULT_FLUENTBIT_IMAGE);
	aggregator_sizing(b, &replicas, &storage);
	if (!sources)
		goto out;
	err = dsr_add_configmaps(b, &r->aggregator, LP_AGGREGATOR_CONFIG_NAME, "aggregator",
	                         sources, NULL, 0);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	svc =
	    dsr_object_new(LP_OWNED_SERVICE, LP_AGGREGATOR_NAME, b->ns, "aggregator", "aggregator");
	if (!svc || json_object_set_new(
	                svc, "spec",
	                json_pack("{s:s, s:b, s:o, s:[{s:s, s:i, s:s, s:s}]}", "clusterIP", "None",
	                          "publishNotReadyAddresses", 0, "selector",
	                          dsr_selector_labels_new("aggregator"), "ports", "name", "forward",
	                          "port", 24224, "targetPort", "forward", "protocol", "TCP"))) {
		json_decref(svc);
		goto out;
	}
	err = dsr_builder_add(b, LP_OWNED_SERVICE, svc);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	pdb = dsr_object_new(LP_OWNED_PDB, LP_AGGREGATOR_NAME, b->ns, "aggregator", "aggregator");
	if (!pdb ||
	    json_object_set_new(pdb, "spec",
	                        json_pack("{s:i, s:{s:o}}", "maxUnavailable", 1, "selector",
	                                  "matchLabels", dsr_selector_labels_new("aggregator")))) {
		json_decref(pdb);
		goto out;
	}
	err = dsr_builder_add(b, LP_OWNED_PDB, pdb);
	if (err)
		goto out;
	err = LP_ERR_NOMEM;
	snprintf(conf_path, sizeof(conf_path), "%s/%s", conf_dir,
	         r->aggregator.n_files ? r->aggregator.files[0].name
	                               : (fluentd ? "fluent.conf" : "fluent-bit.yaml"));
	if (fluentd) {
		probe = json_pack("{s:{s:s}, s:i, s:i}", "tcpSocket", "port", "forward",
		                  "initialDelaySeconds", 5, "periodSeconds", 10);
		cmd = json_pack("[s, s, s]", "fluentd", "-c", conf_path);
	} else {
		probe = http_probe_new(5, 10, 3);
		cmd = json_pack("[s, s, s]", "/fluent-bit/bin/fluent-bit", "-c", conf_path);
	}
	mounts = json_pack("[{s:s, s:s, s:b}, {s:s, s:s}]", "name", "config", "mountPath", conf_dir,
	                   "readOnly", 1, "name", "buffer", "mountPath", LP_STATE_HOST_DIR);
	volumes = json_pack("[{s:s, s:{s:O}}]", "name", "config", "projected", "sources", sources);
	if (!mounts || !volumes || add_secret_file_mounts(b, r, volumes, mounts))
		goto out;
	/* Fluent Bit's own metrics on lp-metrics; Fluentd serves none there, and a
	 * declared port nothing listens on would read as a target down */
	ports = json_pack("[{s:s, s:i, s:s}]", "name", "forward", "containerPort", 24224,
	                  "protocol", "TCP");
	if (!ports || (!fluentd &&
	               json_array_append_new(ports, json_pack("{s:s, s:i, s:s}", "name",
	                                                      "lp-metrics", "containerPort",
	                                                      LP_METRICS_PORT, "protocol", "TCP"))))
		goto out;
	container = json_pack("{s:s, s:s, s:s, s:o, s:o, s:O, "
	                      "s:O, s:O, s:o, s:o, s:{s:{s:s, s:s}}}",
	                      "name", "aggregator", "image", image, "imagePullPolicy",
	                      "IfNotPresent", "command", cmd, "env", env_new(b, r), "ports", ports,
	                      "volumeMounts", mounts, "readinessProbe", probe, "livenessProbe",
	                      probe, "securityContext", container_security_new(), "resources",
	                      "requests", "cpu", "100m", "memory", "128Mi");
	cmd = probe = NULL;
	pod = json_pack("{s:{s:o, s:{s:s}}, s:{s:s, s:i, s:{s:b, s:{s:s}}, s:[o], s:O}}",
	                "metadata", "labels", dsr_selector_labels_new("aggregator"), "annotations",
	                LP_CONFIG_HASH_ANNOTATION, b->d.config_hash, "spec", "serviceAccountName",
	                LP_SHIPPER_NAME, "terminationGracePeriodSeconds", 60, "securityContext",
	                "runAsNonRoot", fluentd, "seccompProfile", "type", "RuntimeDefault",
	                "containers", container, "volumes", volumes);
	if (pod &&
	    (apply_settings(as, json_object_get(pod, "spec"), container) != LP_OK ||
	     (!fluentd && add_nofile(b, json_object_get(pod, "spec"), LP_AGGREGATOR_OPEN_FILES)))) {
		container = NULL; /* the pod holds it */
		goto out;
	}
	container = NULL;
	sts = dsr_object_new(LP_OWNED_STATEFULSET, LP_AGGREGATOR_NAME, b->ns, "aggregator",
	                     "aggregator");
	if (!sts || !pod ||
	    json_object_set_new(sts, "spec",
	                        json_pack("{s:s, s:i, s:s, s:{s:o}, s:O, s:[{s:{s:s}, s:{s:[s], "
	                                  "s:{s:{s:s}}}}]}",
	                                  "serviceName", LP_AGGREGATOR_NAME, "replicas", replicas,
	                                  "podManagementPolicy", "Parallel", "selector",
	                                  "matchLabels", dsr_selector_labels_new("aggregator"),
	                                  "template", pod, "volumeClaimTemplates", "metadata",
	                                  "name", "buffer", "spec", "accessModes", "ReadWriteOnce",
	                                  "resources", "requests", "storage", storage))) {
		json_decref(sts);
		goto out;
	}
	if (as && as->storage_class && *as->storage_class &&
	    json_object_set_new(
	        json_object_get(
	            json_array_get(
	                json_object_get(json_object_get(sts, "spec"), "volumeClaimTemplates"), 0),
	            "spec"),
	        "storageClassName", json_string(as->storage_class))) {
		json_decref(sts);
		goto out;
	}
	err = dsr_builder_add(b, LP_OWNED_STATEFULSET, sts);
out:
	json_decref(ports);
	json_decref(mounts);
	json_decref(volumes);
	json_decref(pod);
	json_decref(container);
	json_decref(probe);
	json_decref(cmd);
	json_decref(sources);
	return err;
}
