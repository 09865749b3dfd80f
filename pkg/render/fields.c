/* pkg/render/fields.c: see fields.h. Keep in step with fluentbit.c / fluentd.c. */
#include "fields.h"
#include "bundle.h"
#include "../api/api.h"

#define P "LogPipeline"
#define O "LogOutput"

/* Before the output types' rows. */
static const struct lp_render_field head[] = {
    {P, "spec.input.application", "tail", "path,exclude_path,multiline.parser,tag,tag_regex,db",
     NULL,
     "one shared tail of /var/log/containers/*.log (kube-system excluded), CRI lines joined, "
     "tag kube.<namespace>.<pod>.<container> from the file name"},
    {P, "spec.input.application (per pipeline)", NULL, NULL, NULL,
     "the match / match_regex of each route's output instance lp_<hash>_r<i> matches the source "
     "tags "
     "the pipeline selects (kube.<ns>.*), no copy; via the aggregator the same match on a "
     "forward output sending them as a.<hash>.<tag>"},
    {P, "spec.input.application.namespaces.include / exclude", NULL, NULL, NULL,
     "the outputs' match_regex on the namespace part (control namespace only; other "
     "namespaces see only their own)"},
    {P, "spec.input.application.containers.include / exclude", NULL, NULL, NULL,
     "the outputs' match_regex on the container part"},
    {P, "spec.input.application.podLabels", "grep", "regex,logical_op", NULL,
     "$kubernetes['labels']['KEY'] ^VALUE$, all must match (logical_op and)"},
    {P, "spec.input.system", "tail", "path,tag,tag_regex,db", NULL,
     "shared tail of kube-system container logs, tag system.kube.<ns>.<pod>.<container>"},
    {P, "spec.input.system (node)", "systemd",
     "tag,systemd_filter,systemd_filter_type,read_from_tail,db", NULL,
     "kubelet and containerd journal, tag system.node.journal"},
    {P, "spec.input.files[].path", "tail", "path,db,skip_long_lines", NULL,
     "one tail per file entry, tag p.<hash>.file.<name>"},
    {P, "spec.input.files[].metadataRegex", "tail", "tag_regex,tag", NULL,
     "named groups namespace_name, pod_name, container_name go into the tag; a file the regex does "
     "not match is not read"},
    {P, "spec.input.files[].metadataRegex (metadata)", "kubernetes", "kube_tag_prefix,regex_parser",
     NULL, "kubernetes metadata for those files"},
    {P, "spec.input.http.port", "http", "listen,port,tag", NULL,
     "tag p.<hash>.http; post to / (a request path sets the tag in Fluent Bit, so a Lua "
     "processor drops records tagged anything else: no client can post into another "
     "pipeline)"},
    {P, "spec.kubernetes.enabled", "kubernetes",
     "match,kube_tag_prefix,regex_parser,use_kubelet,kubelet_host,kubelet_port,buffer_size", NULL,
     "one shared filter per source (kube.*, system.kube.*), pod metadata from the kubelet; "
     "off: the pipeline's copy drops the kubernetes key (modify remove)"},
    {P, "spec.kubernetes.labels", "kubernetes", "labels", NULL,
     "on when any pipeline asks; a pipeline that did not ask gets them removed (lua, "
     "logplane.lua)"},
    {P, "spec.kubernetes.annotations", "kubernetes", "annotations", NULL, "as labels"},
    {P, "spec.multiline.parsers (java, python, go)", "multiline",
     "multiline.parser,multiline.key_content,buffer,flush_ms,emitter_name", NULL,
     "the pipeline's first filter (with buffer on, earlier filters would run twice); "
     "note: Fluent Bit 5.1.1's python parser in this filter also re-emits the last "
     "traceback line as a record of its own"},
    {P, "spec.multiline.parsers (cri, docker)", "tail", "multiline.parser", NULL,
     "on the pipeline's files inputs (container logs always use cri)"},
    {P, "spec.multiline.rules[]", "multiline_parser", "name,type,flush_timeout,rules", NULL,
     "a regex multiline parser lp-<hash>-ml, rules {state, regex: /RE/, next_state}"},
    {P, "spec.multiline.flushTimeoutMs", "multiline", "flush_ms", NULL,
     "also flush_timeout of the custom parser"},
    {P, "spec.parse.format", "parser", "format,regex", NULL,
     "parser lp-<hash>-parse: json, logfmt or regex (named groups)"},
    {P, "spec.parse.key", "parser", NULL, NULL, "filter parser key_name (default log)"},
    {P, "spec.parse (filter)", "parser", "key_name,parser,reserve_data,preserve_key", NULL,
     "the parser filter; reserve_data on keeps the other keys"},
    {P, "spec.parse.timeKey / timeFormat", "parser", "time_key,time_format,time_keep", NULL, NULL},
    {P, "spec.parse.keepOriginal", "parser", "preserve_key", NULL, NULL},
    {P, "spec.transforms[].flatten.separator", "lua", "script,call,enable_flb_null", NULL,
     "a function of the shared script logplane.lua walks the record recursively; nulls kept"},
    {P, "spec.transforms[].dropFields", "modify", "remove", NULL, NULL},
    {P, "spec.transforms[].keepFields", "record_modifier", "allowlist_key", NULL, NULL},
    {P, "spec.transforms[].renameFields", "modify", "rename", NULL, "order kept"},
    {P, "spec.transforms[].addFields", "modify", "add,set", NULL,
     "set with overwrite; values with spaces or quotes go through a lua filter with inline code "
     "(every byte of the value escaped) instead"},
    {P, "spec.transforms[].addFields (quoted values)", "lua", "call,code", NULL, NULL},
    {P, "spec.transforms[].grep.include", "grep", "regex,logical_op", NULL, "logical_op and"},
    {P, "spec.transforms[].grep.exclude", "grep", "exclude,logical_op", NULL, "logical_op or"},
    {P, "spec.transforms[].throttle", "throttle", "rate,window,interval,print_status", NULL,
     "one limit for the whole pipeline"},
    {P, "spec.transforms[].throttle.perPod", "lua", "script,call", NULL,
     "a token bucket per namespace/pod in logplane.lua (rate per interval, burst rate x window)"},
    {P, "spec.transforms[].detectLevel", "lua", "script,call", NULL,
     "\"level\":\"x\", level=x or an upper-case level word in the source key, lower-cased into the "
     "target key"},
    {P, "spec.routes[].outputRef", "http", "match,match_regex,workers",
     "<match a.<hash>.**> @type copy",
     "(any output type) one output instance per route; the pipeline's work runs as its "
     "processors"},
    {P, "spec.routes[].match (in / regex)", "grep", "regex,logical_op", "<match o.<hash>.**>",
     "a grep processor of the route's output instance (via the aggregator: of the route's own "
     "forward output, tag o.<output hash>.a.<hash>.<tag>)"},
    {P, "spec.aggregator.enabled", "forward",
     "tag,host,port,shared_key,self_hostname,require_ack_response,compress",
     "<source> @type forward",
     "the pipeline's routes are forward outputs lp_<hash>_fwd / lp_<hash>_r<i> to the "
     "aggregator (tag a.<hash>.$TAG / o.<output hash>.a.<hash>.$TAG), acknowledged"},
    {P, "spec.aggregator.engine", NULL, NULL, "fluent.conf",
     "fluentbit (default) or fluentd for the aggregator"},
    {O, "spec.delivery.mode atLeastOnce", "tail",
     "storage.type,storage.pause_on_chunks_overlimit,mem_buf_limit",
     "<buffer> @type file, overflow_action block",
     "filesystem buffers on the inputs feeding the output"},
    {O, "spec.delivery.mode atMostOnce", "tail", "storage.type,mem_buf_limit",
     "<buffer> @type memory, drop_oldest_chunk", "memory only; retry_limit 1 unless set"},
    {O, "spec.delivery.retryLimit", "http", "retry_limit", "retry_max_times", "every output type"},
    {O, "spec.delivery.bufferLimit", "http", "storage.total_limit_size", "total_limit_size",
     "every output type"},
    {O, "spec.delivery.memBufLimit", "tail", "mem_buf_limit", NULL,
     "largest of a pipeline's outputs"},
    {O, "spec.aws.region", "kinesis_streams", "region", "region / s3_region", "all AWS types"},
    {O, "spec.aws.endpoint", "kinesis_streams", "endpoint,port", "endpoint / s3_endpoint",
     "kinesis, firehose, cloudwatch: host in endpoint, port in port (always TLS); s3: the URL"},
    {O, "spec.aws.credentials.roleArn / externalId", "kinesis_streams", "role_arn,external_id",
     NULL, NULL},
    {O, "spec.aws.credentials.secretRef", "kinesis_streams", "profile",
     "<shared_credentials> profile_name (cloudwatch_logs: aws_key_id / aws_sec_key)",
     "a profile of its own (lp-<hash>) in the operator's AWS credentials file "
     "(AWS_SHARED_CREDENTIALS_FILE); opensearch: aws_profile"},
    {O, "spec.*.auth.secretRef", "opensearch", "http_user,http_passwd", "user / password",
     "${LP_SECRET_...} filled from the Secret (also loki, http)"},
    {O, "spec.*.tls", "http", "tls,tls.verify,tls.ca_file", "scheme / ssl_verify / ca_file",
     "CA from the Secret's ca.crt mounted under /etc/logplane/ca"},
};

/* After the output types' rows (pkg/api/out_*.c key tables). */
static const struct lp_render_field tail[] = {
    {O, "spec.livetail.maxRecordsPerSecond", "throttle", "rate,window,interval", NULL,
     "on the output's copies"},
    {O, "spec.alert.maxRecordsPerSecond", "throttle", "rate,window,interval", NULL,
     "on the output's copies"},
    {O, "spec.alert.slack.webhookSecretRef, windowSeconds, maxPerMinute", NULL, NULL, NULL,
     "not rendered: the operator writes them into the hub's Secret <hub service>-alerts "
     "(logplane-hub-alerts)"},
    {NULL, "(service)", "service",
     "flush,log_level,http_server,hot_reload,storage.path,storage.sync,storage.max_chunks_up,"
     "storage.backlog.mem_limit,storage.metrics,scheduler.base,scheduler.cap",
     NULL,
     "fixed: the built-in HTTP server off (its once-a-second metrics merge grows with the square "
     "of the output instances, docs/delivery.md), hot reload on SIGHUP"},
    {NULL, "(agent metrics input)", "fluentbit_metrics",
     "alias,tag,scrape_interval,scrape_on_start", NULL,
     "the agent's own metrics every 30 s (and 5 s after start), tag lp_metrics"},
    {NULL, "(agent metrics exporter)", "prometheus_exporter", "alias,match,host,port", NULL,
     "on both agents: :2021 /metrics serves the agent's own metrics and spec.metrics; the "
     "probes' endpoint"},
};

#define N(a) (sizeof(a) / sizeof(a[0]))

/* The number of key table rows of the output types that name a field; row
 * number want of them into *row when row is not NULL. */
static size_t type_rows(size_t want, struct lp_render_field *row)
{
	size_t n = 0;

	for (int t = LP_OUT_NONE + 1; t < LP_OUT_TYPE_COUNT; t++) {
		const struct lp_output_type_desc *d = lp_output_type_desc((enum lp_output_type)t);
		for (size_t i = 0; d && i < d->n_keys; i++) {
			const struct lp_out_key *k = &d->keys[i];
			if (!k->field || !k->fb_key)
				continue;
			if (n++ == want && row) {
				row->kind = "LogOutput";
				row->field = k->field;
				row->fb_plugin = d->fb_plugin;
				row->fb_keys = k->fb_key;
				row->fluentd = k->fluentd;
				row->note = k->note;
			}
		}
	}
	return n;
}

size_t lp_render_fields_count(void)
{
	return N(head) + type_rows((size_t)-1, NULL) + N(tail);
}

int lp_render_field_at(size_t i, struct lp_render_field *row)
{
	size_t nt = type_rows((size_t)-1, NULL);

	if (i < N(head)) {
		*row = head[i];
		return 1;
	}
	i -= N(head);
	if (i < nt) {
		type_rows(i, row);
		return 1;
	}
	i -= nt;
	if (i < N(tail)) {
		*row = tail[i];
		return 1;
	}
	return 0;
}

static lp_err cell(struct lp_buf *b, const char *s)
{
	lp_err err = LP_OK;

	if (!s)
		return lp_buf_adds(b, " | ");
	for (const char *p = s; *p && !err; p++)
		err = *p == '|' ? lp_buf_adds(b, "\\|") : lp_buf_addc(b, *p);
	return err ? err : lp_buf_adds(b, " | ");
}

lp_err lp_render_fields_markdown(struct lp_buf *out)
{
	struct lp_render_field f;
	lp_err err;

	err = lp_buf_adds(
	    out, "# Fields and the settings they become\n\n"
	         "Generated by `logplane render --fields-table` from the renderer's own table "
	         "(pkg/render/fields.c) and the key table of each output type's descriptor "
	         "(pkg/api/out_*.c); do not edit by hand. Fluent Bit keys are those of "
	         "Fluent Bit 5.1.1 and are checked against its property schema by "
	         "tests/unit/test_render.c.\n\n"
	         "## How records are routed\n\n"
	         "- Container logs are read once, by one `tail` input, and tagged "
	         "`kube.<namespace>.<pod>.<container>` from the file name; kube-system's go to "
	         "`system.kube.*`, the kubelet/containerd journal to `system.node.journal`.\n"
	         "- Each LogPipeline route is its own output instance whose match is the "
	         "pipeline's selection on those source tags (`kube.<its namespace>.*` for a "
	         "namespaced pipeline): no record is copied, and two pipelines selecting the "
	         "same records take them from the same chunk. The pipeline's work (parse, "
	         "transforms, the route's match as a grep) is that output's `processors`, so "
	         "a record meets only its own pipelines' work. See docs/delivery.md.\n"
	         "- A pipeline via the aggregator does the same with `forward` outputs to the "
	         "aggregator: one for its routes without a match, sending `a.<hash>.<source "
	         "tag>`, and one per other route, sending `o.<output hash>.a.<hash>.<source "
	         "tag>` (the output's `tag`); the aggregator routes on those tags. No copy "
	         "either.\n"
	         "- Every source chunk also goes to one `null` output, so chunks nobody "
	         "selected are released at once.\n"
	         "- Credentials are `${LP_SECRET_...}` variables filled from Secrets; the "
	         "config never holds them.\n\n"
	         "## Table\n\n"
	         "| Kind | Field | Fluent Bit plugin | Fluent Bit keys | Fluentd (aggregator) | "
	         "Notes |\n"
	         "|---|---|---|---|---|---|\n");
	for (size_t i = 0; !err && lp_render_field_at(i, &f); i++) {
		err = lp_buf_adds(out, "| ");
		if (!err)
			err = cell(out, f.kind ? f.kind : "-");
		if (!err)
			err = cell(out, f.field);
		if (!err)
			err = cell(out, f.fb_plugin ? f.fb_plugin : "-");
		if (!err)
			err = cell(out, f.fb_keys ? f.fb_keys : "-");
		if (!err)
			err = cell(out, f.fluentd ? f.fluentd : "-");
		if (!err)
			err = cell(out, f.note ? f.note : "");
		if (!err) {
			out->len -= 1; /* trailing space */
			err = lp_buf_adds(out, "\n");
		}
	}
	return err;
}
