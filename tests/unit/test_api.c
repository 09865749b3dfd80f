/* pkg/api: parsing, defaults, validation (table-driven), YAML loading and a
 * round-trip of every example in examples/. */
#include "lp_test.h"
#include "../../pkg/api/api.h"
#include "../../pkg/api/check.h"
#include "../../pkg/api/yamlload.h"
#include "../../pkg/util/mem.h"
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <time.h>

#define P_HDR "{apiVersion: logplane.io/v1alpha1, kind: LogPipeline, "
#define O_HDR "{apiVersion: logplane.io/v1alpha1, kind: LogOutput, "
#define CTRL  "metadata: {name: p1, namespace: logplane-system}, "
#define TEAM  "metadata: {name: p1, namespace: team-a}, "
#define OCTRL "metadata: {name: o1, namespace: logplane-system}, "
#define OTEAM "metadata: {name: o1, namespace: team-a}, "
#define ROUTE "routes: [{outputRef: main}]"
#define AWS   "aws: {region: us-east-1}, "

/* ---------- utilities ---------- */

static json_t *load1(const char *yaml)
{
	struct lp_yaml_docs d;
	json_t *j = NULL;

	if (lp_yaml_load_string(&d, yaml, strlen(yaml)) == LP_OK && d.n == 1) {
		j = d.v[0].root;
		d.v[0].root = NULL;
	} else {
		printf("# yaml error: %s\n", d.error ? d.error : "(none)");
	}
	lp_yaml_docs_free(&d);
	return j;
}

/* The world every validation case sees: outputs "main" (control namespace)
 * and "local" (team-a); Secrets "aws" {AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY}
 * and "slack" {url} in both namespaces. */
static const char *const world_outputs[] = {
    O_HDR "metadata: {name: main, namespace: logplane-system}, spec: {type: stdout}}",
    O_HDR "metadata: {name: local, namespace: team-a}, spec: {type: stdout}}",
    O_HDR "metadata: {name: shared, namespace: logplane-system}, spec: {type: stdout, "
          "sharedWith: {namespaces: [team-b]}}}",
    O_HDR "metadata: {name: bypod, namespace: logplane-system}, spec: {type: s3, " AWS
          "sharedWith: {namespaces: [team-a]}, s3: {bucket: bkt, keyFormat: "
          "'/{namespace}/{pod}/$UUID'}}}",
};
#define N_WORLD (sizeof(world_outputs) / sizeof(world_outputs[0]))

static int fake_secret(void *ctx, const char *ns, const char *name, const char *key)
{
	(void)ctx;
	if (strcmp(ns, "logplane-system") != 0 && strcmp(ns, "team-a") != 0)
		return 0;
	if (strcmp(name, "aws") == 0)
		return !key || strcmp(key, "AWS_ACCESS_KEY_ID") == 0 ||
		       strcmp(key, "AWS_SECRET_ACCESS_KEY") == 0;
	if (strcmp(name, "slack") == 0)
		return !key || strcmp(key, "url") == 0;
	return 0;
}

struct world {
	struct lp_output *o[4];
	struct lp_world w;
};

static void world_init(struct world *wd)
{
	struct lp_problems pr = {NULL, 0};

	memset(wd, 0, sizeof(*wd));
	for (size_t i = 0; i < N_WORLD; i++) {
		json_t *j = load1(world_outputs[i]);
		LP_CHECK(j != NULL);
		LP_CHECK_INT(lp_output_parse(&wd->o[i], j, &pr), LP_OK);
		json_decref(j);
	}
	lp_problems_free(&pr);
	wd->w.control_ns = NULL;
	wd->w.outputs = (const struct lp_output *const *)wd->o;
	wd->w.n_outputs = N_WORLD;
	wd->w.secret_has_key = fake_secret;
}

static void world_free(struct world *wd)
{
	for (size_t i = 0; i < N_WORLD; i++)
		lp_output_free(wd->o[i]);
}

/* Parses and validates one object of either kind; returns the problems. */
static lp_err check_doc(const char *yaml, struct lp_problems *pr)
{
	struct world wd;
	json_t *j = load1(yaml);
	const char *kind;
	lp_err e1 = LP_ERR_INVALID, e2 = LP_OK;

	if (!j)
		return LP_ERR_PARSE;
	world_init(&wd);
	kind = json_string_value(json_object_get(j, "kind"));
	if (kind && strcmp(kind, "LogOutput") == 0) {
		struct lp_output *o = NULL;
		e1 = lp_output_parse(&o, j, pr);
		if (o)
			e2 = lp_output_validate(o, &wd.w, pr);
		lp_output_free(o);
	} else {
		struct lp_pipeline *p = NULL;
		e1 = lp_pipeline_parse(&p, j, pr);
		if (p)
			e2 = lp_pipeline_validate(p, &wd.w, pr);
		lp_pipeline_free(p);
	}
	world_free(&wd);
	json_decref(j);
	return e1 != LP_OK ? e1 : e2;
}

/* ---------- the table of bad input ---------- */

struct bad_case {
	const char *name;
	const char *yaml;
	const char *field;   /* expected problem field path */
	const char *message; /* substring of its message */
};

static const struct bad_case bad_cases[] = {
    /* header and metadata */
    {"api_version", "{apiVersion: logplane.io/v1, kind: LogPipeline, " CTRL "spec: {" ROUTE "}}",
     "apiVersion", "must be \"logplane.io/v1alpha1\""},
    {"no_spec", P_HDR CTRL "}", "spec", "required"},
    {"no_name", P_HDR "metadata: {namespace: team-a}, spec: {" ROUTE "}}", "metadata.name",
     "required"},
    {"name_upper", P_HDR "metadata: {name: MyPipe}, spec: {" ROUTE "}}", "metadata.name",
     "DNS-1123 label"},
    {"name_too_long",
     P_HDR "metadata: {name: a123456789012345678901234567890123456789012345678901234567890123}, "
           "spec: {" ROUTE "}}",
     "metadata.name", "at most 63 characters"},
    {"unknown_spec_field", P_HDR CTRL "spec: {" ROUTE ", filters: []}}", "spec.filters",
     "unknown field"},
    /* routes */
    {"unknown_field_did_you_mean", P_HDR CTRL "spec: {" ROUTE ", transfroms: []}}",
     "spec.transfroms", "unknown field (did you mean \"transforms\"?)"},
    {"unknown_field_nested_did_you_mean",
     P_HDR CTRL "spec: {input: {application: {namespace: {include: [a]}}}, " ROUTE "}}",
     "spec.input.application.namespace", "did you mean \"namespaces\"?"},
    {"ns_include_kube_system",
     P_HDR CTRL "spec: {input: {application: {namespaces: {include: [shop, kube-system]}}}, " ROUTE
                "}}",
     "spec.input.application.namespaces.include[1]", "spec.input.system"},
    {"keep_kubernetes_after_flatten",
     P_HDR CTRL
     "spec: {transforms: [{flatten: {separator: _}}, {keepFields: [msg, kubernetes]}], " ROUTE "}}",
     "spec.transforms[1].keepFields[1]",
     "no longer exists after the flatten at spec.transforms[0]"},
    {"routes_missing", P_HDR CTRL "spec: {}}", "spec.routes", "required"},
    {"routes_empty", P_HDR CTRL "spec: {routes: []}}", "spec.routes", "between 1 and 32"},
    {"route_not_found", P_HDR TEAM "spec: {routes: [{outputRef: local}, {outputRef: audit}]}}",
     "spec.routes[1].outputRef", "LogOutput \"audit\" not found in namespace \"team-a\""},
    {"route_other_ns", P_HDR TEAM "spec: {routes: [{outputRef: main}]}}",
     "spec.routes[0].outputRef", "not found in namespace \"team-a\""},
    {"route_duplicate", P_HDR CTRL "spec: {routes: [{outputRef: main}, {outputRef: main}]}}",
     "spec.routes[1].outputRef", "already used by spec.routes[0]"},
    {"route_match_both",
     P_HDR CTRL "spec: {routes: [{outputRef: main, match: {field: level, in: [error], regex: "
                "x}}]}}",
     "spec.routes[0].match", "not both"},
    {"route_match_none", P_HDR CTRL "spec: {routes: [{outputRef: main, match: {field: level}}]}}",
     "spec.routes[0].match", "one of in or regex is required"},
    {"route_match_no_field", P_HDR CTRL "spec: {routes: [{outputRef: main, match: {in: [a]}}]}}",
     "spec.routes[0].match.field", "required"},
    {"route_ref_type", P_HDR CTRL "spec: {routes: [{outputRef: 5}]}}", "spec.routes[0].outputRef",
     "must be a string"},
    /* parse */
    {"parse_regex_bad",
     P_HDR CTRL "spec: {parse: {format: regex, regex: '^(?<a>x)(y'}, " ROUTE "}}",
     "spec.parse.regex", "invalid regular expression at offset 8: "},
    {"parse_regex_no_groups",
     P_HDR CTRL "spec: {parse: {format: regex, regex: '^x+$'}, " ROUTE "}}", "spec.parse.regex",
     "named group"},
    {"parse_format", P_HDR CTRL "spec: {parse: {format: xml}, " ROUTE "}}", "spec.parse.format",
     "unsupported value \"xml\""},
    {"parse_regex_missing", P_HDR CTRL "spec: {parse: {format: regex}, " ROUTE "}}",
     "spec.parse.regex", "required"},
    {"parse_timekey_group",
     P_HDR CTRL "spec: {parse: {format: regex, regex: '(?<msg>.*)', timeKey: ts}, " ROUTE "}}",
     "spec.parse.timeKey", "not a named group"},
    {"parse_timeformat_no_key",
     P_HDR CTRL "spec: {parse: {format: json, timeFormat: '%s'}, " ROUTE "}}",
     "spec.parse.timeFormat", "needs timeKey"},
    /* injection */
    {"inject_newline",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: \"a\\n[OUTPUT]\"}]}], " ROUTE
                "}}",
     "spec.transforms[0].addFields[0].value", "newline"},
    {"inject_at",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: '@INCLUDE /etc/x'}]}], " ROUTE
                "}}",
     "spec.transforms[0].addFields[0].value", "must not start with '@'"},
    {"inject_section",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: '[SERVICE]'}]}], " ROUTE "}}",
     "spec.transforms[0].addFields[0].value", "'['"},
    {"inject_env",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: 'x${AWS_SECRET}'}]}], " ROUTE
                "}}",
     "spec.transforms[0].addFields[0].value", "${"},
    {"inject_nul",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: \"a\\0b\"}]}], " ROUTE "}}",
     "spec.transforms[0].addFields[0].value", "NUL"},
    {"inject_control",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: \"a\\eb\"}]}], " ROUTE "}}",
     "spec.transforms[0].addFields[0].value", "control characters"},
    {"inject_fluentd",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: env, value: '#{`id`}'}]}], " ROUTE "}}",
     "spec.transforms[0].addFields[0].value", "#{"},
    {"field_key_brace", P_HDR CTRL "spec: {transforms: [{dropFields: ['a}b']}], " ROUTE "}}",
     "spec.transforms[0].dropFields[0]", "record key"},
    {"too_long_value",
     P_HDR CTRL "spec: {transforms: [{addFields: [{key: k, value: "
                "'"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789012345678901234567890123456789"
                "'}]}], " ROUTE "}}",
     "spec.transforms[0].addFields[0].value", "too long"},
    /* transforms */
    {"transform_two_ops",
     P_HDR CTRL "spec: {transforms: [{flatten: {}, dropFields: [a]}], " ROUTE "}}",
     "spec.transforms[0]", "sets both flatten and dropFields"},
    {"transform_none", P_HDR CTRL "spec: {transforms: [{}], " ROUTE "}}", "spec.transforms[0]",
     "must set exactly one of"},
    {"transform_overwrite_misplaced",
     P_HDR CTRL "spec: {transforms: [{dropFields: [a], overwrite: true}], " ROUTE "}}",
     "spec.transforms[0].overwrite", "only used with addFields"},
    {"grep_bad_regex",
     P_HDR CTRL "spec: {transforms: [{grep: {exclude: [{key: msg, regex: '[z-a]'}]}}], " ROUTE "}}",
     "spec.transforms[0].grep.exclude[0].regex", "invalid regular expression"},
    {"grep_empty", P_HDR CTRL "spec: {transforms: [{grep: {}}], " ROUTE "}}",
     "spec.transforms[0].grep", "set include or exclude"},
    {"throttle_rate_zero", P_HDR CTRL "spec: {transforms: [{throttle: {rate: 0}}], " ROUTE "}}",
     "spec.transforms[0].throttle.rate", "between 1 and 1000000"},
    {"throttle_interval",
     P_HDR CTRL "spec: {transforms: [{throttle: {rate: 5, interval: 5ms}}], " ROUTE "}}",
     "spec.transforms[0].throttle.interval", "duration"},
    {"rename_missing_to",
     P_HDR CTRL "spec: {transforms: [{renameFields: [{from: a}]}], " ROUTE "}}",
     "spec.transforms[0].renameFields[0].to", "required"},
    {"drop_fields_duplicate", P_HDR CTRL "spec: {transforms: [{dropFields: [a, a]}], " ROUTE "}}",
     "spec.transforms[0].dropFields[1]", "duplicate value"},
    /* multiline */
    {"multiline_no_start",
     P_HDR CTRL "spec: {multiline: {rules: [{state: cont, regex: '^\\s', nextState: cont}]}, " ROUTE
                "}}",
     "spec.multiline.rules", "start_state"},
    {"multiline_unknown_next",
     P_HDR CTRL "spec: {multiline: {rules: [{state: start_state, regex: '^\\d', nextState: "
                "cont}]}, " ROUTE "}}",
     "spec.multiline.rules[0].nextState", "no rule has state \"cont\""},
    {"multiline_parser", P_HDR CTRL "spec: {multiline: {parsers: [ruby]}, " ROUTE "}}",
     "spec.multiline.parsers[0]", "unsupported parser"},
    {"multiline_empty", P_HDR CTRL "spec: {multiline: {}, " ROUTE "}}", "spec.multiline",
     "set parsers or rules"},
    {"multiline_flush",
     P_HDR CTRL "spec: {multiline: {parsers: [go], flushTimeoutMs: 5}, " ROUTE "}}",
     "spec.multiline.flushTimeoutMs", "between 100 and 60000"},
    /* input and tenancy */
    {"tenant_system",
     P_HDR TEAM "spec: {input: {system: {enabled: true}}, routes: [{outputRef: local}]}}",
     "spec.input.system", "only pipelines in the control namespace \"logplane-system\""},
    {"tenant_other_ns",
     P_HDR TEAM "spec: {input: {application: {namespaces: {include: [team-a, team-b]}}}, "
                "routes: [{outputRef: local}]}}",
     "spec.input.application.namespaces.include[1]", "reads only its own namespace"},
    {"tenant_files",
     P_HDR TEAM
     "spec: {input: {files: [{name: x, path: /var/log/x.log}]}, routes: [{outputRef: local}]}}",
     "spec.input.files", "host files"},
    {"tenant_http", P_HDR TEAM "spec: {input: {http: {}}, routes: [{outputRef: local}]}}",
     "spec.input.http", "control namespace"},
    {"files_regex_groups",
     P_HDR CTRL "spec: {input: {files: [{name: app, path: /var/log/app/*.log, metadataRegex: "
                "'(?<file>[^/]+)\\.log$'}]}, " ROUTE "}}",
     "spec.input.files[0].metadataRegex", "namespace_name"},
    {"files_relative",
     P_HDR CTRL "spec: {input: {files: [{name: app, path: logs/x.log}]}, " ROUTE "}}",
     "spec.input.files[0].path", "absolute path"},
    {"files_dotdot",
     P_HDR CTRL "spec: {input: {files: [{name: app, path: /var/log/../../etc/shadow}]}, " ROUTE
                "}}",
     "spec.input.files[0].path", "\"..\""},
    {"files_containers",
     P_HDR CTRL "spec: {input: {files: [{name: app, path: /var/log/containers/*.log}]}, " ROUTE
                "}}",
     "spec.input.files[0].path", "spec.input.application"},
    {"no_input", P_HDR CTRL "spec: {input: {application: {enabled: false}}, " ROUTE "}}",
     "spec.input", "no input enabled"},
    {"include_exclude_same",
     P_HDR CTRL "spec: {input: {application: {namespaces: {include: [a], exclude: [a]}}}, " ROUTE
                "}}",
     "spec.input.application.namespaces.exclude[0]", "also in include"},
    {"pod_label_key",
     P_HDR CTRL "spec: {input: {application: {podLabels: {'-bad': x}}}, " ROUTE "}}",
     "spec.input.application.podLabels.-bad", "label key"},
    {"http_port_low", P_HDR CTRL "spec: {input: {http: {port: 80}}, " ROUTE "}}",
     "spec.input.http.port", "between 1024 and 65535"},
    {"http_port_metrics", P_HDR CTRL "spec: {input: {http: {port: 2021}}, " ROUTE "}}",
     "spec.input.http.port", "not 2020 or 2021"},
    {"bool_as_string", P_HDR CTRL "spec: {kubernetes: {labels: 'yes'}, " ROUTE "}}",
     "spec.kubernetes.labels", "must be a boolean"},
    {"aggregator_size", P_HDR CTRL "spec: {aggregator: {storageSize: 10 gigs}, " ROUTE "}}",
     "spec.aggregator.storageSize", "must be a size"},
    {"aggregator_engine", P_HDR CTRL "spec: {aggregator: {engine: vector}, " ROUTE "}}",
     "spec.aggregator.engine", "must be one of \"fluentbit\", \"fluentd\""},
    /* outputs */
    {"out_type_missing", O_HDR OCTRL "spec: {}}", "spec.type", "required"},
    {"out_type_unknown", O_HDR OCTRL "spec: {type: splunk}}", "spec.type", "unsupported value"},
    {"out_wrong_body", O_HDR OCTRL "spec: {type: stdout, kinesis: {stream: s}}}", "spec.kinesis",
     "not allowed with type stdout"},
    {"out_kinesis_region", O_HDR OCTRL "spec: {type: kinesis, kinesis: {stream: s}}}",
     "spec.aws.region", "required for type kinesis"},
    {"out_region_bad",
     O_HDR OCTRL "spec: {type: kinesis, aws: {region: 'US East'}, kinesis: {stream: s}}}",
     "spec.aws.region", "AWS region"},
    {"out_endpoint_bad",
     O_HDR OCTRL
     "spec: {type: s3, aws: {region: us-east-1, endpoint: 'ftp://x'}, s3: {bucket: abc}}}",
     "spec.aws.endpoint", "http:// or https:// URL"},
    {"out_kinesis_partition_key_removed",
     O_HDR OCTRL "spec: {type: kinesis, " AWS "kinesis: {stream: s, partitionKey: pod}}}",
     "spec.kinesis.partitionKey", "removed: Fluent Bit 5.1.1's kinesis_streams output has no"},
    {"out_stream_missing", O_HDR OCTRL "spec: {type: kinesis, " AWS "kinesis: {}}}",
     "spec.kinesis.stream", "required"},
    {"out_stream_chars", O_HDR OCTRL "spec: {type: kinesis, " AWS "kinesis: {stream: 'a b'}}}",
     "spec.kinesis.stream", "letters, digits"},
    {"out_shards_on_demand",
     O_HDR OCTRL "spec: {type: kinesis, " AWS "kinesis: {stream: s, provision: {mode: onDemand, "
                 "shardCount: 2}}}}",
     "spec.kinesis.provision.shardCount", "not used with mode onDemand"},
    {"out_retention_hours",
     O_HDR OCTRL "spec: {type: kinesis, " AWS
                 "kinesis: {stream: s, provision: {retentionHours: 1}}}}",
     "spec.kinesis.provision.retentionHours", "between 24 and 8760"},
    {"out_bucket_name", O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: My_Bucket}}}",
     "spec.s3.bucket", "S3 bucket name"},
    {"out_s3_size", O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, totalFileSize: 1K}}}",
     "spec.s3.totalFileSize", "between"},
    {"out_s3_key_uuid",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, keyFormat: /logs/x.gz}}}",
     "spec.s3.keyFormat", "$UUID"},
    {"out_s3_key_tag",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, keyFormat: '/logs/$TAG[1]/$UUID'}}}",
     "spec.s3.keyFormat", "$TAG is the agents' internal routing tag"},
    {"out_s3_key_unknown",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, keyFormat: '/{node}/$UUID'}}}",
     "spec.s3.keyFormat", "unknown placeholder at \"{node}/$UUID\""},
    {"out_s3_key_brace",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, keyFormat: '/a}/$UUID'}}}",
     "spec.s3.keyFormat", "'}' outside a placeholder"},
    {"s3_key_pod_system",
     P_HDR CTRL "spec: {input: {system: {enabled: true}}, routes: [{outputRef: bypod}]}}",
     "spec.routes[0].outputRef", "uses {namespace}, which only application logs carry"},
    /* shared outputs */
    {"shared_not_named",
     P_HDR TEAM "spec: {input: {application: {}}, routes: [{outputRef: shared, "
                "outputNamespace: logplane-system}]}}",
     "spec.routes[0].outputRef",
     "no LogOutput \"shared\" in namespace \"logplane-system\" is shared with namespace "
     "\"team-a\""},
    {"shared_missing_reads_the_same",
     P_HDR TEAM "spec: {input: {application: {}}, routes: [{outputRef: nosuch, "
                "outputNamespace: logplane-system}]}}",
     "spec.routes[0].outputRef",
     "no LogOutput \"nosuch\" in namespace \"logplane-system\" is shared with namespace "
     "\"team-a\""},
    {"shared_from_tenant_ns",
     P_HDR TEAM "spec: {input: {application: {}}, routes: [{outputRef: local, "
                "outputNamespace: team-b}]}}",
     "spec.routes[0].outputNamespace", "no other namespace shares outputs"},
    {"shared_outside_control",
     O_HDR OTEAM "spec: {type: stdout, sharedWith: {namespaces: [team-b]}}}", "spec.sharedWith",
     "only a LogOutput in the control namespace \"logplane-system\" may be shared"},
    {"shared_livetail", O_HDR OCTRL "spec: {type: livetail, sharedWith: {namespaces: [team-a]}}}",
     "spec.sharedWith", "a livetail output is not shared"},
    {"shared_empty", O_HDR OCTRL "spec: {type: stdout, sharedWith: {namespaces: []}}}",
     "spec.sharedWith.namespaces", ""},
    {"shared_bad_ns", O_HDR OCTRL "spec: {type: stdout, sharedWith: {namespaces: [Team_A]}}}",
     "spec.sharedWith.namespaces[0]", ""},
    {"out_s3_timeout",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, uploadTimeout: soon}}}",
     "spec.s3.uploadTimeout", "duration"},
    {"out_firehose_role",
     O_HDR OCTRL "spec: {type: firehose, " AWS "firehose: {deliveryStream: d, provision: {bucket: "
                 "logs, roleArn: 'role/x'}}}}",
     "spec.firehose.provision.roleArn", "must be an ARN"},
    {"out_firehose_buffer",
     O_HDR OCTRL "spec: {type: firehose, " AWS "firehose: {deliveryStream: d, provision: {bucket: "
                 "logs, roleArn: 'arn:aws:iam::123456789012:role/fh', bufferingSizeMiB: 500}}}}",
     "spec.firehose.provision.bufferingSizeMiB", "between 1 and 128"},
    {"out_cw_retention",
     O_HDR OCTRL "spec: {type: cloudwatch, " AWS "cloudwatch: {logGroup: /app, provision: "
                 "{retentionDays: 10}}}}",
     "spec.cloudwatch.provision.retentionDays", "one of 1, 3, 5"},
    {"out_tenant_aws_creds", O_HDR OTEAM "spec: {type: kinesis, " AWS "kinesis: {stream: s}}}",
     "spec.aws.credentials.secretRef", "required for AWS outputs outside the control namespace"},
    {"out_secret_missing",
     O_HDR OTEAM "spec: {type: kinesis, aws: {region: us-east-1, credentials: {secretRef: {name: "
                 "nope}}}, kinesis: {stream: s}}}",
     "spec.aws.credentials.secretRef", "Secret \"nope\" not found in namespace \"team-a\""},
    {"out_secret_key_missing",
     O_HDR OCTRL "spec: {type: slack, slack: {webhookSecretRef: {name: slack, key: webhook}}}}",
     "spec.slack.webhookSecretRef", "has no key \"webhook\""},
    {"out_slack_ref_missing", O_HDR OCTRL "spec: {type: slack, slack: {}}}",
     "spec.slack.webhookSecretRef", "required"},
    {"out_alert_slack_missing", O_HDR OCTRL "spec: {type: alert, alert: {}}}", "spec.alert.slack",
     "required"},
    {"out_alert_body_missing", O_HDR OCTRL "spec: {type: alert}}", "spec.alert", "required"},
    {"out_alert_key_missing",
     O_HDR OCTRL "spec: {type: alert, alert: {slack: {webhookSecretRef: {name: slack, key: "
                 "hook}}}}}",
     "spec.alert.slack.webhookSecretRef", "has no key \"hook\""},
    {"out_alert_window",
     O_HDR OCTRL "spec: {type: alert, alert: {windowSeconds: 0, slack: {webhookSecretRef: "
                 "{name: slack, key: url}}}}}",
     "spec.alert.windowSeconds", "between 1 and 86400"},
    {"out_alert_per_minute",
     O_HDR OCTRL "spec: {type: alert, alert: {maxPerMinute: 601, slack: {webhookSecretRef: "
                 "{name: slack, key: url}}}}}",
     "spec.alert.maxPerMinute", "between 1 and 600"},
    {"out_alert_unknown_key",
     O_HDR OCTRL "spec: {type: alert, alert: {channel: x, slack: {webhookSecretRef: "
                 "{name: slack, key: url}}}}}",
     "spec.alert.channel", "unknown"},
    {"out_delivery_retry", O_HDR OCTRL "spec: {type: stdout, delivery: {retryLimit: 0}}}",
     "spec.delivery.retryLimit", "between 1 and 100"},
    {"out_delivery_buffer", O_HDR OCTRL "spec: {type: stdout, delivery: {bufferLimit: lots}}}",
     "spec.delivery.bufferLimit", "must be a size"},
    {"out_delivery_mode", O_HDR OCTRL "spec: {type: stdout, delivery: {mode: exactlyOnce}}}",
     "spec.delivery.mode", "\"atLeastOnce\", \"atMostOnce\""},
    {"out_kafka_broker", O_HDR OCTRL "spec: {type: kafka, kafka: {brokers: [kafka], topic: logs}}}",
     "spec.kafka.brokers[0]", "host:port"},
    {"out_kafka_brokers_empty",
     O_HDR OCTRL "spec: {type: kafka, kafka: {brokers: [], topic: logs}}}", "spec.kafka.brokers",
     "at least 1 item"},
    {"out_search_index_upper",
     O_HDR OCTRL "spec: {type: elasticsearch, elasticsearch: {host: es, index: Logs}}}",
     "spec.elasticsearch.index", "lower case"},
    {"out_search_host",
     O_HDR OCTRL "spec: {type: opensearch, opensearch: {host: 'https://os:9200'}}}",
     "spec.opensearch.host", "host name"},
    {"out_es_awsauth",
     O_HDR OCTRL "spec: {type: elasticsearch, elasticsearch: {host: es, awsAuth: true}}}",
     "spec.elasticsearch.awsAuth", "unknown field"},
    {"out_http_header_both",
     O_HDR OCTRL
     "spec: {type: http, http: {host: h, headers: [{name: X-Token, value: a, valueFrom: "
     "{secretKeyRef: {name: s, key: k}}}]}}}",
     "spec.http.headers[0]", "not both"},
    {"out_http_header_name",
     O_HDR OCTRL "spec: {type: http, http: {host: h, headers: [{name: 'X Token', value: a}]}}}",
     "spec.http.headers[0].name", "header name"},
    {"out_http_uri", O_HDR OCTRL "spec: {type: http, http: {host: h, uri: 'logs'}}}",
     "spec.http.uri", "starting with '/'"},
    {"out_port_range", O_HDR OCTRL "spec: {type: forward, forward: {host: h, port: 70000}}}",
     "spec.forward.port", "between 1 and 65535"},
    {"out_loki_label", O_HDR OCTRL "spec: {type: loki, loki: {host: l, labels: {app.name: x}}}}",
     "spec.loki.labels.app.name", "Loki label name"},
    {"out_livetail_rate", O_HDR OCTRL "spec: {type: livetail, livetail: {maxRecordsPerSecond: 0}}}",
     "spec.livetail.maxRecordsPerSecond", "between 1 and 10000"},
    {"out_tls_verify_disabled",
     O_HDR OCTRL "spec: {type: loki, loki: {host: l, tls: {enabled: false, verify: false}}}}",
     "spec.loki.tls", "need enabled: true"},
    {"out_kms_needs_encryption",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, provision: {kmsKeyId: alias/x}}}}",
     "spec.s3.provision.kmsKeyId", "aws:kms"},
    {"out_tags_count",
     O_HDR OCTRL "spec: {type: cloudwatch, " AWS "cloudwatch: {logGroup: g, provision: {tags: {a: "
                 "'1', b: '2', c: '3', d: '4', e: '5', f: '6', g: '7', h: '8', i: '9', j: '10', k: "
                 "'11', l: '12', m: '13', n: '14', o: '15', p: '16', q: '17', r: '18', s: '19', t: "
                 "'20', u: '21', v: '22', w: '23', x: '24', y: '25', z: '26', aa: '27', ab: '28', "
                 "ac: '29', ad: '30', ae: '31', af: '32', ag: '33', ah: '34', ai: '35', aj: '36', "
                 "ak: '37', al: '38', am: '39', an: '40', ao: '41', ap: '42', aq: '43', ar: '44', "
                 "as: '45', at: '46', au: '47', av: '48', aw: '49', ax: '50', ay: '51'}}}}}",
     "spec.cloudwatch.provision.tags", "at most 50 entries"},
    {"out_externalid_alone",
     O_HDR OCTRL "spec: {type: s3, aws: {region: us-east-1, credentials: {externalId: x}}, s3: "
                 "{bucket: logs}}}",
     "spec.aws.credentials.externalId", "needs roleArn"},
    {"out_aws_on_kafka",
     O_HDR OCTRL "spec: {type: kafka, " AWS "kafka: {brokers: ['k:9092'], topic: t}}}", "spec.aws",
     "not used by type kafka"},
    {"namespace_invalid", P_HDR "metadata: {name: p1, namespace: Team_A}, spec: {" ROUTE "}}",
     "metadata.namespace", "DNS-1123 label"},
    {"pod_label_value",
     P_HDR CTRL "spec: {input: {application: {podLabels: {app: 'a b'}}}, " ROUTE "}}",
     "spec.input.application.podLabels.app", "label value"},
    {"multiline_dup_parser", P_HDR CTRL "spec: {multiline: {parsers: [java, java]}, " ROUTE "}}",
     "spec.multiline.parsers[1]", "duplicate parser \"java\""},
    {"routes_too_many",
     P_HDR CTRL "spec: {routes: [{outputRef: a0}, {outputRef: a1}, {outputRef: a2}, {outputRef: "
                "a3}, {outputRef: a4}, {outputRef: a5}, {outputRef: a6}, {outputRef: a7}, "
                "{outputRef: a8}, {outputRef: a9}, {outputRef: b0}, {outputRef: b1}, {outputRef: "
                "b2}, {outputRef: b3}, {outputRef: b4}, {outputRef: b5}, {outputRef: b6}, "
                "{outputRef: b7}, {outputRef: b8}, {outputRef: b9}, {outputRef: c0}, {outputRef: "
                "c1}, {outputRef: c2}, {outputRef: c3}, {outputRef: c4}, {outputRef: c5}, "
                "{outputRef: c6}, {outputRef: c7}, {outputRef: c8}, {outputRef: c9}, {outputRef: "
                "d0}, {outputRef: d1}, {outputRef: d2}]}}",
     "spec.routes", "between 1 and 32 items (got 33)"},
    {"parse_regex_with_json",
     P_HDR CTRL "spec: {parse: {format: json, regex: '(?<a>.)'}, " ROUTE "}}", "spec.parse.regex",
     "only used with format: regex"},
    {"route_match_regex_bad",
     P_HDR CTRL "spec: {routes: [{outputRef: main, match: {field: level, regex: '(?<x'}}]}}",
     "spec.routes[0].match.regex", "invalid regular expression at offset"},
    {"out_firehose_no_role",
     O_HDR OCTRL "spec: {type: firehose, " AWS "firehose: {deliveryStream: d, provision: {bucket: "
                 "logs}}}}",
     "spec.firehose.provision.roleArn", "required"},
    {"out_s3_storage_class",
     O_HDR OCTRL "spec: {type: s3, " AWS "s3: {bucket: logs, storageClass: COLD}}}",
     "spec.s3.storageClass", "unsupported value \"COLD\""},
    {"out_opensearch_awsauth_region",
     O_HDR OCTRL "spec: {type: opensearch, opensearch: {host: os, awsAuth: true}}}",
     "spec.aws.region", "required with spec.opensearch.awsAuth"},
    {"out_search_index_and_prefix",
     O_HDR OCTRL "spec: {type: opensearch, opensearch: {host: os, index: a, logstashPrefix: b}}}",
     "spec.opensearch", "set index or logstashPrefix, not both"},
    {"out_kinesis_kms_disabled",
     O_HDR OCTRL "spec: {type: kinesis, " AWS "kinesis: {stream: s, provision: {encryption: "
                 "{kmsKeyId: alias/mine}}}}}",
     "spec.kinesis.provision.encryption.kmsKeyId", "needs encryption.enabled: true"},
    {"out_ca_secret_missing",
     O_HDR OCTRL "spec: {type: loki, loki: {host: l, tls: {caSecretRef: {name: loki-ca}}}}}",
     "spec.loki.tls.caSecretRef", "Secret \"loki-ca\" not found"},
    {"out_auth_secret_key",
     O_HDR OTEAM "spec: {type: elasticsearch, elasticsearch: {host: es, auth: {secretRef: {name: "
                 "slack}}}}}",
     "spec.elasticsearch.auth.secretRef", "has no key \"username\""},
    {"out_header_secret_missing",
     O_HDR OCTRL "spec: {type: http, http: {host: h, headers: [{name: Authorization, valueFrom: "
                 "{secretKeyRef: {name: api-token, key: token}}}]}}}",
     "spec.http.headers[0].valueFrom.secretKeyRef", "Secret \"api-token\" not found"},
    {"out_header_host",
     O_HDR OCTRL "spec: {type: http, http: {host: h, headers: [{name: host, value: evil}]}}}",
     "spec.http.headers[0].name", "set by the client itself"},
    /* spec.metrics (numbers from logs) */
    {"metric_name_prometheus",
     P_HDR CTRL "spec: {metrics: [{name: Errors-Total, type: counter}], " ROUTE "}}",
     "spec.metrics[0].name", "must match [a-z_][a-z0-9_]*"},
    {"metric_name_reserved", P_HDR CTRL "spec: {metrics: [{name: __x, type: counter}], " ROUTE "}}",
     "spec.metrics[0].name", "not starting with \"__\""},
    {"metric_type_unknown", P_HDR CTRL "spec: {metrics: [{name: a, type: gauge}], " ROUTE "}}",
     "spec.metrics[0].type", "unsupported value \"gauge\""},
    {"metric_label_unknown",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter, labels: [level, container]}], " ROUTE
                "}}",
     "spec.metrics[0].labels[1]", "unsupported label \"container\""},
    {"metric_label_dup",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter, labels: [level, level]}], " ROUTE "}}",
     "spec.metrics[0].labels[1]", "duplicate value \"level\""},
    {"metric_labels_too_many",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter, labels: [level, namespace, workload, "
                "pod, 'field:x']}], " ROUTE "}}",
     "spec.metrics[0].labels", "at most 4"},
    {"metric_field_label_nested",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter, labels: ['field:a.b']}], " ROUTE "}}",
     "spec.metrics[0].labels[0]", "top-level record key"},
    {"metric_histogram_needs_field",
     P_HDR CTRL "spec: {metrics: [{name: a, type: histogram}], " ROUTE "}}",
     "spec.metrics[0].field", "required"},
    {"metric_counter_buckets",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter, buckets: [1]}], " ROUTE "}}",
     "spec.metrics[0].buckets", "only used with type: histogram"},
    {"metric_buckets_order",
     P_HDR CTRL "spec: {metrics: [{name: a, type: histogram, field: d, buckets: [1, 0.5]}], " ROUTE
                "}}",
     "spec.metrics[0].buckets[1]", "strictly increasing"},
    {"metric_buckets_too_many",
     P_HDR CTRL "spec: {metrics: [{name: a, type: histogram, field: d, buckets: [1, 2, 3, 4, 5, 6, "
                "7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]}], " ROUTE "}}",
     "spec.metrics[0].buckets", "between 1 and 16 items"},
    {"metric_name_dup",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter}, {name: a, type: counter}], " ROUTE "}}",
     "spec.metrics[1].name", "already used by spec.metrics[0]"},
    {"metrics_too_many",
     P_HDR CTRL "spec: {metrics: [{name: a, type: counter}, {name: b, type: counter}, {name: c, "
                "type: counter}, {name: d, type: counter}, {name: e, type: counter}, {name: f, "
                "type: counter}, {name: g, type: counter}, {name: h, type: counter}, {name: i, "
                "type: counter}], " ROUTE "}}",
     "spec.metrics", "between 1 and 8 items"},
    {"metrics_with_aggregator",
     P_HDR CTRL "spec: {aggregator: {}, metrics: [{name: a, type: counter}], " ROUTE "}}",
     "spec.metrics", "not supported with spec.aggregator"},
    {"out_unknown_top",
     "{apiVersion: logplane.io/v1alpha1, kind: LogOutput, " OCTRL "spec: {type: stdout}, extra: 1}",
     "extra", "unknown field"},
};

/* Runs one case; prints its own PASS/FAIL line; returns 1 when it passed. */
static int run_bad(size_t i)
{
	const struct bad_case *c = &bad_cases[i];
	struct lp_problems pr = {NULL, 0};
	lp_err e = check_doc(c->yaml, &pr);
	int found = 0;

	for (size_t k = 0; k < pr.n; k++)
		if (strcmp(pr.v[k].field, c->field) == 0 && strstr(pr.v[k].message, c->message))
			found = 1;
	if (e == LP_ERR_INVALID && found) {
		printf("PASS api:bad/%s\n", c->name);
	} else {
		printf("FAIL api:bad/%s: result %s, want a problem \"%s: ...%s...\"; got %zu:\n",
		       c->name, lp_strerror(e), c->field, c->message, pr.n);
		for (size_t k = 0; k < pr.n; k++)
			printf("#   %s: %s\n", pr.v[k].field, pr.v[k].message);
	}
	lp_problems_free(&pr);
	return e == LP_ERR_INVALID && found;
}

/* ---------- good input and defaults ---------- */

static void t_pipeline_defaults(void)
{
	struct lp_problems pr = {NULL, 0};
	struct lp_pipeline *p = NULL;
	json_t *j =
	    load1(P_HDR "metadata: {name: p1}, spec: {transforms: [{flatten: {}}, "
	                "{throttle: {rate: 10}}, {detectLevel: {}}], parse: {format: json}, "
	                "aggregator: {}, " ROUTE "}}");

	LP_CHECK(j != NULL);
	LP_CHECK_INT(lp_pipeline_parse(&p, j, &pr), LP_OK);
	LP_CHECK_INT(pr.n, 0);
	LP_CHECK(p != NULL);
	if (!p)
		goto out;
	LP_CHECK_STR(p->meta.name, "p1");
	LP_CHECK_STR(p->meta.ns, "default");
	LP_CHECK_INT(p->has_app, 1);
	LP_CHECK_INT(p->app.enabled, 1);
	LP_CHECK_INT(p->system, 0);
	LP_CHECK_INT(p->kubernetes.enabled, 1);
	LP_CHECK_INT(p->kubernetes.labels, 1);
	LP_CHECK_INT(p->kubernetes.annotations, 0);
	LP_CHECK_INT(p->multiline.present, 0);
	LP_CHECK_INT(p->multiline.flush_timeout_ms, 1000);
	LP_CHECK_INT(p->parse.format, LP_PARSE_JSON);
	LP_CHECK_STR(p->parse.key, "log");
	LP_CHECK_INT(p->n_transforms, 3);
	LP_CHECK_INT(p->transforms[0].kind, LP_TR_FLATTEN);
	LP_CHECK_STR(p->transforms[0].u.flatten.separator, ".");
	LP_CHECK_INT(p->transforms[1].u.throttle.rate, 10);
	LP_CHECK_INT(p->transforms[1].u.throttle.window, 5);
	LP_CHECK_STR(p->transforms[1].u.throttle.interval, "1s");
	LP_CHECK_STR(p->transforms[2].u.detect_level.source_key, "log");
	LP_CHECK_STR(p->transforms[2].u.detect_level.target_key, "level");
	LP_CHECK_INT(p->aggregator.enabled, 1);
	LP_CHECK_INT(p->aggregator.engine, LP_ENGINE_FLUENTBIT);
	LP_CHECK_INT(p->aggregator.replicas, 2);
	LP_CHECK_STR(p->aggregator.storage_size, "10Gi");
	LP_CHECK_INT(p->http.port, 9880);
	LP_CHECK_INT(p->http.enabled, 0);
	LP_CHECK_INT(p->n_routes, 1);
	LP_CHECK_INT(p->routes[0].op, LP_ROUTE_ALL);
out:
	lp_pipeline_free(p);
	lp_problems_free(&pr);
	json_decref(j);
}

static void t_output_defaults(void)
{
	struct lp_problems pr = {NULL, 0};
	struct lp_output *o = NULL;
	json_t *j =
	    load1(O_HDR OCTRL "spec: {type: s3, aws: {region: eu-west-1, credentials: "
	                      "{secretRef: {name: aws}}}, s3: {bucket: my-logs, provision: {}}}}");

	LP_CHECK(j != NULL);
	LP_CHECK_INT(lp_output_parse(&o, j, &pr), LP_OK);
	LP_CHECK_INT(pr.n, 0);
	if (!o)
		goto out;
	LP_CHECK_INT(o->type, LP_OUT_S3);
	LP_CHECK_INT(o->delivery.mode, LP_DELIVERY_AT_LEAST_ONCE);
	LP_CHECK_INT(o->delivery.retry_limit, 10);
	LP_CHECK(o->delivery.buffer_limit == NULL); /* the renderer's default applies */
	LP_CHECK_STR(o->delivery.mem_buf_limit, "5M");
	LP_CHECK_STR(o->aws.region, "eu-west-1");
	LP_CHECK_STR(o->aws.credentials.secret_name, "aws");
	LP_CHECK_STR(o->aws.credentials.access_key_id_key, "AWS_ACCESS_KEY_ID");
	LP_CHECK_STR(o->aws.credentials.secret_access_key_key, "AWS_SECRET_ACCESS_KEY");
	LP_CHECK(o->aws.credentials.session_token_key == NULL);
	LP_CHECK(o->u.s3.key_format == NULL); /* the renderer's default for each pipeline */
	LP_CHECK_STR(o->u.s3.total_file_size, "100M");
	LP_CHECK_STR(o->u.s3.upload_timeout, "10m");
	LP_CHECK_STR(o->u.s3.compression, "gzip");
	LP_CHECK(o->u.s3.storage_class == NULL);
	LP_CHECK_INT(o->u.s3.provision.present, 1);
	LP_CHECK_STR(o->u.s3.provision.encryption, "AES256");
	LP_CHECK_INT(o->u.s3.provision.block_public_access, 1);
	LP_CHECK_INT(o->u.s3.provision.deletion_policy, LP_DELETION_RETAIN);
out:
	lp_output_free(o);
	lp_problems_free(&pr);
	json_decref(j);
}

static void t_output_defaults_by_type(void)
{
	static const struct {
		const char *yaml;
		enum lp_output_type type;
	} cases[] = {
	    {O_HDR OCTRL "spec: {type: opensearch, opensearch: {host: os.example.com}}}",
	     LP_OUT_OPENSEARCH},
	    {O_HDR OCTRL "spec: {type: loki, loki: {host: loki}}}", LP_OUT_LOKI},
	    {O_HDR OCTRL "spec: {type: http, http: {host: h, tls: {enabled: false}}}}",
	     LP_OUT_HTTP},
	    {O_HDR OCTRL "spec: {type: forward, forward: {host: agg}}}", LP_OUT_FORWARD},
	    {O_HDR OCTRL "spec: {type: stdout}}", LP_OUT_STDOUT},
	    {O_HDR OCTRL "spec: {type: livetail}}", LP_OUT_LIVETAIL},
	    {O_HDR OCTRL "spec: {type: alert, alert: {slack: {webhookSecretRef: {name: slack, "
	                 "key: url}}}}}",
	     LP_OUT_ALERT},
	    {O_HDR OCTRL "spec: {type: kinesis, " AWS "kinesis: {stream: s, provision: "
	                 "{encryption: {enabled: true}}}}}",
	     LP_OUT_KINESIS},
	    {O_HDR OCTRL "spec: {type: firehose, " AWS "firehose: {deliveryStream: d, provision: "
	                 "{bucket: b-1, roleArn: 'arn:aws:iam::123456789012:role/fh'}}}}",
	     LP_OUT_FIREHOSE},
	    {O_HDR OCTRL "spec: {type: cloudwatch, " AWS "cloudwatch: {logGroup: /eks/app}}}",
	     LP_OUT_CLOUDWATCH},
	    {O_HDR OCTRL
	     "spec: {type: kafka, kafka: {brokers: ['k1:9092', '[::1]:9092'], topic: t}}}",
	     LP_OUT_KAFKA},
	};
	for (size_t i = 0; i < LP_TEST_COUNT(cases); i++) {
		struct lp_problems pr = {NULL, 0};
		struct lp_output *o = NULL;
		json_t *j = load1(cases[i].yaml);
		lp_err e = lp_output_parse(&o, j, &pr);
		if (e != LP_OK || !o) {
			lp_test_fail(__FILE__, __LINE__, "case %zu: %s", i,
			             pr.n ? pr.v[0].message : "parse failed");
			if (pr.n)
				printf("#   %s: %s\n", pr.v[0].field, pr.v[0].message);
		} else {
			LP_CHECK_INT(o->type, cases[i].type);
			switch (o->type) {
			case LP_OUT_OPENSEARCH:
				LP_CHECK_INT(o->u.search.port, 9200);
				LP_CHECK_STR(o->u.search.index, "logs");
				LP_CHECK_INT(o->u.search.tls.enabled, 1);
				LP_CHECK_INT(o->u.search.tls.verify, 1);
				break;
			case LP_OUT_LOKI:
				LP_CHECK_INT(o->u.loki.port, 3100);
				break;
			case LP_OUT_HTTP:
				LP_CHECK_INT(o->u.http.port, 80);
				LP_CHECK_STR(o->u.http.uri, "/");
				LP_CHECK_STR(o->u.http.format, "json");
				break;
			case LP_OUT_FORWARD:
				LP_CHECK_INT(o->u.forward.port, 24224);
				LP_CHECK_INT(o->u.forward.tls.enabled, 0);
				break;
			case LP_OUT_STDOUT:
				LP_CHECK_STR(o->u.std_out.format, "json_lines");
				break;
			case LP_OUT_LIVETAIL:
				LP_CHECK_INT(o->u.livetail.max_records_per_second, 100);
				break;
			case LP_OUT_ALERT:
				LP_CHECK_INT(o->u.alert.window_seconds, 60);
				LP_CHECK_INT(o->u.alert.max_per_minute, 10);
				LP_CHECK_INT(o->u.alert.max_records_per_second, 1000);
				LP_CHECK_STR(o->u.alert.slack_webhook.key, "url");
				LP_CHECK(lp_output_type_via_hub(o->type));
				LP_CHECK_INT(lp_output_hub_rate(o), 1000);
				break;
			case LP_OUT_KINESIS:
				LP_CHECK_INT(o->u.kinesis.provision.on_demand, 0);
				LP_CHECK_INT(o->u.kinesis.provision.shard_count, 1);
				LP_CHECK_INT(o->u.kinesis.provision.retention_hours, 24);
				LP_CHECK_STR(o->u.kinesis.provision.kms_key_id,
				             "alias/aws/kinesis");
				break;
			case LP_OUT_FIREHOSE:
				LP_CHECK_INT(o->u.firehose.provision.buffering_size_mib, 64);
				LP_CHECK_INT(o->u.firehose.provision.buffering_interval_seconds,
				             300);
				LP_CHECK_STR(o->u.firehose.provision.compression, "GZIP");
				break;
			case LP_OUT_CLOUDWATCH:
				LP_CHECK_STR(o->u.cloudwatch.log_stream_prefix, "fluent-bit-");
				LP_CHECK_INT(o->u.cloudwatch.provision.present, 0);
				break;
			case LP_OUT_KAFKA:
				LP_CHECK_INT(o->u.kafka.brokers.n, 2);
				LP_CHECK_STR(o->u.kafka.format, "json");
				break;
			default:
				break;
			}
		}
		lp_output_free(o);
		lp_problems_free(&pr);
		json_decref(j);
	}
}

/* A tenant pipeline that stays in its lane validates cleanly. */
static void t_tenant_ok(void)
{
	struct lp_problems pr = {NULL, 0};
	lp_err e = check_doc(P_HDR TEAM "spec: {input: {application: {namespaces: {include: "
	                                "[team-a]}, containers: {exclude: [istio-proxy]}}}, "
	                                "routes: [{outputRef: local, match: {field: level, in: "
	                                "[error, fatal]}}]}}",
	                     &pr);

	LP_CHECK_INT(e, LP_OK);
	for (size_t i = 0; i < pr.n; i++)
		printf("#   %s: %s\n", pr.v[i].field, pr.v[i].message);
	LP_CHECK_INT(pr.n, 0);
	lp_problems_free(&pr);
}

/* A tenant named in a control-namespace output's spec.sharedWith routes to it
 * (outputNamespace), next to its own output; a key with {pod} suits its
 * application logs. */
static void t_shared_ok(void)
{
	static const char *const docs[] = {
	    P_HDR "metadata: {name: p1, namespace: team-b}, spec: {input: {application: {}}, "
	          "routes: [{outputRef: shared, outputNamespace: logplane-system}]}}",
	    P_HDR TEAM "spec: {input: {application: {}}, routes: [{outputRef: local}, "
	               "{outputRef: bypod, outputNamespace: logplane-system}]}}",
	    P_HDR CTRL "spec: {input: {application: {}}, routes: [{outputRef: shared, "
	               "outputNamespace: logplane-system}]}}",
	};

	for (size_t d = 0; d < LP_TEST_COUNT(docs); d++) {
		struct lp_problems pr = {NULL, 0};
		LP_CHECK_INT(check_doc(docs[d], &pr), LP_OK);
		for (size_t i = 0; i < pr.n; i++)
			printf("#   %zu %s: %s\n", d, pr.v[i].field, pr.v[i].message);
		LP_CHECK_INT(pr.n, 0);
		lp_problems_free(&pr);
	}
}

/* Two objects claiming the same thing: the one sorting later is told. */
static void t_clashes(void)
{
	const char *docs[] = {
	    P_HDR "metadata: {name: a, namespace: logplane-system}, spec: {input: {http: {}}, "
	          "routes: [{outputRef: s1}]}}",
	    P_HDR "metadata: {name: b, namespace: logplane-system}, spec: {input: {http: {port: "
	          "9880}}, routes: [{outputRef: s1}]}}",
	    P_HDR "metadata: {name: c, namespace: logplane-system}, spec: {input: {http: {port: "
	          "9881}}, routes: [{outputRef: s1}]}}",
	    O_HDR "metadata: {name: s1, namespace: logplane-system}, spec: {type: kinesis, " AWS
	          "kinesis: {stream: shared, provision: {}}}}",
	    O_HDR "metadata: {name: s2, namespace: logplane-system}, spec: {type: kinesis, " AWS
	          "kinesis: {stream: shared, provision: {}}}}",
	    O_HDR "metadata: {name: s3, namespace: logplane-system}, spec: {type: kinesis, aws: "
	          "{region: eu-west-1}, kinesis: {stream: shared, provision: {}}}}",
	    O_HDR "metadata: {name: s4, namespace: logplane-system}, spec: {type: kinesis, " AWS
	          "kinesis: {stream: shared}}}",
	};
	struct lp_pipeline *p[3] = {NULL, NULL, NULL};
	struct lp_output *o[4] = {NULL, NULL, NULL, NULL};
	struct lp_problems pr = {NULL, 0};
	struct lp_world w;
	lp_err want[7] = {LP_OK, LP_ERR_INVALID, LP_OK, LP_OK, LP_ERR_INVALID, LP_OK, LP_OK};

	for (size_t i = 0; i < 7; i++) {
		json_t *j = load1(docs[i]);
		if (i < 3)
			LP_CHECK_INT(lp_pipeline_parse(&p[i], j, &pr), LP_OK);
		else
			LP_CHECK_INT(lp_output_parse(&o[i - 3], j, &pr), LP_OK);
		json_decref(j);
	}
	memset(&w, 0, sizeof(w));
	w.outputs = (const struct lp_output *const *)o;
	w.n_outputs = 4;
	w.pipelines = (const struct lp_pipeline *const *)p;
	w.n_pipelines = 3;
	for (size_t i = 0; i < 7; i++) {
		size_t before = pr.n;
		lp_err e = i < 3 ? lp_pipeline_validate(p[i], &w, &pr)
		                 : lp_output_validate(o[i - 3], &w, &pr);
		LP_CHECK_INT(e, want[i]);
		if (e != want[i])
			printf("# case %zu: %s\n", i, pr.n > before ? pr.v[before].message : "-");
		if (i == 1 && pr.n == 1) {
			LP_CHECK_STR(pr.v[0].field, "spec.input.http.port");
			LP_CHECK_HAS(pr.v[0].message,
			             "port 9880 is already used by LogPipeline logplane-system/a");
		}
		if (i == 4 && pr.n == 2) {
			LP_CHECK_STR(pr.v[1].field, "spec.kinesis.provision");
			LP_CHECK_HAS(pr.v[1].message,
			             "Kinesis stream \"shared\" is already provisioned "
			             "by LogOutput logplane-system/s1");
		}
		if (i == 1 || i == 4)
			continue;
		LP_CHECK_INT(pr.n, i < 1 ? 0 : i < 4 ? 1 : 2);
	}
	for (size_t i = 0; i < 3; i++)
		lp_pipeline_free(p[i]);
	for (size_t i = 0; i < 4; i++)
		lp_output_free(o[i]);
	lp_problems_free(&pr);
}

/* Not an object: no struct; wrong kind: reported. */
static void t_parse_edges(void)
{
	struct lp_problems pr = {NULL, 0};
	struct lp_pipeline *p = (struct lp_pipeline *)&pr;
	json_t *arr = json_array();
	json_t *j;

	LP_CHECK_INT(lp_pipeline_parse(&p, arr, &pr), LP_ERR_INVALID);
	LP_CHECK(p == NULL);
	json_decref(arr);
	j = load1(O_HDR OCTRL "spec: {type: stdout}}");
	LP_CHECK_INT(lp_pipeline_parse(&p, j, &pr), LP_ERR_INVALID);
	LP_CHECK(p != NULL);
	LP_CHECK(pr.n >= 1);
	if (pr.n) {
		LP_CHECK_STR(pr.v[0].field, "kind");
		LP_CHECK_HAS(pr.v[0].message, "LogPipeline");
	}
	lp_pipeline_free(p);
	lp_problems_free(&pr);
	json_decref(j);
	lp_pipeline_free(NULL);
	lp_output_free(NULL);
	lp_problems_free(NULL);
}

/* ---------- names, sizes, durations, strings, regexes ---------- */

static void t_names(void)
{
	for (int t = 1; t < LP_OUT_TYPE_COUNT; t++) {
		const char *n = lp_output_type_name((enum lp_output_type)t);
		LP_CHECK(n != NULL);
		LP_CHECK_INT(lp_output_type_parse(n), t);
	}
	LP_CHECK(lp_output_type_name(LP_OUT_NONE) == NULL);
	LP_CHECK(lp_output_type_name(LP_OUT_TYPE_COUNT) == NULL);
	LP_CHECK_INT(lp_output_type_parse("nope"), LP_OUT_NONE);
	LP_CHECK(lp_output_type_is_aws(LP_OUT_FIREHOSE));
	LP_CHECK(!lp_output_type_is_aws(LP_OUT_LOKI));
	LP_CHECK_STR(lp_multiline_builtin_name(LP_ML_GO), "go");
	LP_CHECK_STR(lp_transform_kind_name(LP_TR_DETECT_LEVEL), "detectLevel");
	LP_CHECK_STR(lp_parse_format_name(LP_PARSE_LOGFMT), "logfmt");
	LP_CHECK_STR(lp_delivery_mode_name(LP_DELIVERY_AT_MOST_ONCE), "atMostOnce");
}

static void t_sizes_durations(void)
{
	uint64_t v = 7;

	LP_CHECK_INT(lp_size_parse("512", &v), LP_OK);
	LP_CHECK_INT(v, 512);
	LP_CHECK_INT(lp_size_parse("100M", &v), LP_OK);
	LP_CHECK_INT(v, 100000000);
	LP_CHECK_INT(lp_size_parse("10Gi", &v), LP_OK);
	LP_CHECK_INT(v, 10737418240LL);
	LP_CHECK_INT(lp_size_parse("5MB", &v), LP_OK);
	LP_CHECK_INT(v, 5000000);
	v = 7;
	LP_CHECK_INT(lp_size_parse("", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_size_parse("1X", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_size_parse("-1", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_size_parse("1.", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_size_parse("1.5G", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_size_parse("99999999999999999999", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_size_parse("99999999999T", &v), LP_ERR_INVALID);
	LP_CHECK_INT(v, 7);
	LP_CHECK_INT(lp_duration_parse("30s", &v), LP_OK);
	LP_CHECK_INT(v, 30);
	LP_CHECK_INT(lp_duration_parse("10m", &v), LP_OK);
	LP_CHECK_INT(v, 600);
	LP_CHECK_INT(lp_duration_parse("2h", &v), LP_OK);
	LP_CHECK_INT(v, 7200);
	LP_CHECK_INT(lp_duration_parse("1d", &v), LP_OK);
	LP_CHECK_INT(v, 86400);
	LP_CHECK_INT(lp_duration_parse("45", &v), LP_OK);
	LP_CHECK_INT(v, 45);
	LP_CHECK_INT(lp_duration_parse("5ms", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_duration_parse("1.5s", &v), LP_ERR_INVALID);
	LP_CHECK_INT(lp_duration_parse("s", &v), LP_ERR_INVALID);
	LP_CHECK_INT(v, 45);
}

static const char *chk(const char *s, enum lp_str_class c)
{
	return lp_check_string(s, strlen(s), c, 0);
}

static void t_string_classes(void)
{
	LP_CHECK(chk("team-a", LP_STR_DNS_LABEL) == NULL);
	LP_CHECK(chk("-a", LP_STR_DNS_LABEL) != NULL);
	LP_CHECK(chk("a.b", LP_STR_DNS_LABEL) != NULL);
	LP_CHECK(chk("a.b-c", LP_STR_DNS_SUBDOMAIN) == NULL);
	LP_CHECK(chk("a..b", LP_STR_DNS_SUBDOMAIN) != NULL);
	LP_CHECK(chk("kubernetes.namespace_name", LP_STR_FIELD) == NULL);
	LP_CHECK(chk("a..b", LP_STR_FIELD) != NULL);
	LP_CHECK(chk("$x", LP_STR_FIELD) != NULL);
	LP_CHECK(chk("10.0.0.1", LP_STR_HOST) == NULL);
	LP_CHECK(chk("::1", LP_STR_HOST) == NULL);
	LP_CHECK(chk("a b", LP_STR_HOST) != NULL);
	LP_CHECK(chk("/var/log/app/*.log", LP_STR_PATH) == NULL);
	LP_CHECK(chk("/var/log/a b", LP_STR_PATH) != NULL);
	LP_CHECK(chk("my.bucket-1", LP_STR_BUCKET) == NULL);
	LP_CHECK(chk("ab", LP_STR_BUCKET) != NULL);
	LP_CHECK(chk("arn:aws:iam::123456789012:role/x", LP_STR_ARN) == NULL);
	LP_CHECK(chk("arn:aws:iam", LP_STR_ARN) != NULL);
	LP_CHECK(chk("us-gov-west-1", LP_STR_REGION) == NULL);
	LP_CHECK(chk("eu-central-2", LP_STR_REGION) == NULL);
	LP_CHECK(chk("useast1", LP_STR_REGION) != NULL);
	LP_CHECK(chk("https://127.0.0.1:4567", LP_STR_URL) == NULL);
	LP_CHECK(chk("http://[::1]:4567/", LP_STR_URL) == NULL);
	LP_CHECK(chk("http://h:99999", LP_STR_URL) != NULL);
	LP_CHECK(chk("app.kubernetes.io/name", LP_STR_LABEL_KEY) == NULL);
	LP_CHECK(chk("kafka-0.kafka:9092", LP_STR_BROKER) == NULL);
	LP_CHECK(chk("kafka", LP_STR_BROKER) != NULL);
	LP_CHECK(chk("héllo wörld", LP_STR_TEXT) == NULL);
	LP_CHECK(lp_check_string("a\xff", 2, LP_STR_TEXT, 0) != NULL);
	LP_CHECK(lp_check_string("a\xc0\x80", 3, LP_STR_TEXT, 0) != NULL); /* overlong NUL */
	LP_CHECK(chk("a\xe2\x80\xa8"
	             "b",
	             LP_STR_TEXT) != NULL); /* U+2028 */
	LP_CHECK(chk("a\tb", LP_STR_TEXT) != NULL);
	LP_CHECK(chk("abc", LP_STR_TEXT) == NULL);
	LP_CHECK(lp_check_string("abcdef", 6, LP_STR_TEXT, 5) != NULL);
}

static void t_regex(void)
{
	char why[256], *names = NULL;

	LP_CHECK_INT(
	    lp_regex_check("^(?<namespace_name>[^_]+)_(?<pod_name>.+)$", &names, why, sizeof(why)),
	    LP_OK);
	LP_CHECK(lp_regex_names_has(names, "pod_name"));
	LP_CHECK(lp_regex_names_has(names, "namespace_name"));
	LP_CHECK(!lp_regex_names_has(names, "container_name"));
	lp_free(names);
	names = (char *)"untouched";
	LP_CHECK_INT(lp_regex_check("^x$", &names, why, sizeof(why)), LP_OK);
	LP_CHECK(names == NULL);
	LP_CHECK_INT(lp_regex_check("a(b", NULL, why, sizeof(why)), LP_ERR_INVALID);
	LP_CHECK_HAS(why, "invalid regular expression at offset 1: ");
	LP_CHECK_INT(lp_regex_check("ab)", NULL, why, sizeof(why)), LP_ERR_INVALID);
	LP_CHECK_HAS(why, "at offset 2: ");
	LP_CHECK_INT(lp_regex_check("^(?<a>x)(y", NULL, why, sizeof(why)), LP_ERR_INVALID);
	LP_CHECK_HAS(why, "at offset 8: end pattern with unmatched parenthesis");
	LP_CHECK_INT(lp_regex_check("[z-a]", NULL, why, sizeof(why)), LP_ERR_INVALID);
	LP_CHECK_HAS(why, "invalid regular expression at offset 3: ");
	/* a long hostile pattern is checked with a few compilations, not one per byte */
	{
		static char big[4097];
		clock_t t0 = clock();
		for (int i = 0; i < 3993; i++) /* 363 times "(a|b)[c-d]x" */
			big[i] = "(a|b)[c-d]x"[i % 11];
		memcpy(big + 3993, "(z", 3);
		LP_CHECK_INT(lp_regex_check(big, NULL, why, sizeof(why)), LP_ERR_INVALID);
		LP_CHECK_HAS(why, "at offset 3993: end pattern with unmatched parenthesis");
		big[3993] = ')';
		LP_CHECK_INT(lp_regex_check(big, NULL, why, sizeof(why)), LP_ERR_INVALID);
		LP_CHECK_HAS(why, "at offset 3993: unmatched close parenthesis");
		LP_CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	}
	/* Ruby syntax, as Fluent Bit: \d, \h, (?<name>) and possessive quantifiers
	 * (\d+ \h*: a space between them, else the two overlap: polynomial) */
	LP_CHECK_INT(lp_regex_check("^\\d+ \\h*(?<a>x)++$", NULL, why, sizeof(why)), LP_OK);
	LP_CHECK_INT(lp_regex_check("^\\d+\\h*(?<a>x)++$", NULL, why, sizeof(why)), LP_ERR_INVALID);
}

/* ---------- YAML loader ---------- */

static void t_yaml(void)
{
	struct lp_yaml_docs d;
	const char *y = "# comment\n"
	                "a: 1\n"
	                "b: '1'\n"
	                "c: true\n"
	                "d: ~\n"
	                "e: 1.5\n"
	                "f: [x, \"y\", 0x10]\n"
	                "g: &anc {k: v}\n"
	                "h: *anc\n"
	                "i: |\n  line1\n  line2\n"
	                "j: [yes, Off, 'on', n]\n"
	                "---\n"
	                "---\n"
	                "second: doc\n";
	json_t *r;

	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_OK);
	LP_CHECK_INT(d.n, 3);
	if (d.n == 3) {
		r = d.v[0].root;
		LP_CHECK_INT(d.v[0].index, 1);
		LP_CHECK(json_is_integer(json_object_get(r, "a")));
		LP_CHECK_STR(json_string_value(json_object_get(r, "b")), "1");
		LP_CHECK(json_is_true(json_object_get(r, "c")));
		LP_CHECK(json_is_null(json_object_get(r, "d")));
		LP_CHECK(json_is_real(json_object_get(r, "e")));
		LP_CHECK_INT(json_integer_value(json_array_get(json_object_get(r, "f"), 2)), 16);
		LP_CHECK_STR(json_string_value(json_object_get(json_object_get(r, "h"), "k")), "v");
		LP_CHECK_STR(json_string_value(json_object_get(r, "i")), "line1\nline2\n");
		LP_CHECK(json_is_true(json_array_get(json_object_get(r, "j"), 0)));
		LP_CHECK(json_is_false(json_array_get(json_object_get(r, "j"), 1)));
		LP_CHECK_STR(json_string_value(json_array_get(json_object_get(r, "j"), 2)), "on");
		LP_CHECK(json_is_false(json_array_get(json_object_get(r, "j"), 3)));
		LP_CHECK(d.v[1].root == NULL);
		LP_CHECK_INT(d.v[2].index, 3);
		LP_CHECK_INT(d.v[2].line, 16);
		LP_CHECK_STR(json_string_value(json_object_get(d.v[2].root, "second")), "doc");
	}
	lp_yaml_docs_free(&d);

	y = "a: 1\na: 2\n";
	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_ERR_PARSE);
	LP_CHECK_HAS(d.error, "line 2");
	LP_CHECK_HAS(d.error, "duplicate key \"a\"");
	lp_yaml_docs_free(&d);

	y = "a: [1, 2\nb: 3\n";
	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_ERR_PARSE);
	LP_CHECK(d.error != NULL);
	lp_yaml_docs_free(&d);

	y = "ok: 1\n---\na: *nope\n";
	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_ERR_PARSE);
	LP_CHECK_INT(d.n, 1); /* the complete first document is kept */
	LP_CHECK_HAS(d.error, "alias");
	lp_yaml_docs_free(&d);

	y = "a: \"\xff\"\n";
	LP_CHECK_INT(lp_yaml_load_string(&d, y, strlen(y)), LP_ERR_PARSE);
	lp_yaml_docs_free(&d);

	/* limits: nesting depth and number of aliases (no "billion laughs") */
	{
		char deep[400], bomb[8000];
		size_t n = 0;
		for (int i = 0; i < 150; i++)
			deep[n++] = '[';
		deep[n] = 0;
		LP_CHECK_INT(lp_yaml_load_string(&d, deep, n), LP_ERR_PARSE);
		LP_CHECK_HAS(d.error, "nested too deeply");
		lp_yaml_docs_free(&d);
		n = (size_t)snprintf(bomb, sizeof(bomb), "a: &a [x]\nb: [");
		for (int i = 0; i < 1100 && n + 8 < sizeof(bomb); i++)
			n += (size_t)snprintf(bomb + n, sizeof(bomb) - n, "%s*a", i ? "," : "");
		n += (size_t)snprintf(bomb + n, sizeof(bomb) - n, "]\n");
		LP_CHECK_INT(lp_yaml_load_string(&d, bomb, n), LP_ERR_PARSE);
		LP_CHECK_HAS(d.error, "too many aliases");
		lp_yaml_docs_free(&d);
	}

	LP_CHECK_INT(lp_yaml_load_file(&d, "/nonexistent/file.yaml"), LP_ERR_IO);
	LP_CHECK_HAS(d.error, "cannot read");
	lp_yaml_docs_free(&d);
	lp_yaml_docs_free(NULL);
}

/* ---------- examples round-trip ---------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *examples_dir(void)
{
	const char *top = getenv("LP_TOP");
	static const char rel[] = "/examples";
	size_t n = (top ? strlen(top) : 1) + sizeof(rel);
	char *d = lp_malloc(n);

	if (d)
		snprintf(d, n, "%s%s", top ? top : ".", rel);
	return d;
}

struct ex_set {
	struct lp_pipeline *p[64];
	size_t np;
	struct lp_output *o[64];
	size_t no;
	size_t files;
};

static void load_examples(struct ex_set *s)
{
	char *dir = examples_dir();
	DIR *dh = dir ? opendir(dir) : NULL;
	char *names[64];
	size_t nn = 0;
	struct dirent *de;

	memset(s, 0, sizeof(*s));
	LP_CHECK(dh != NULL);
	while (dh && (de = readdir(dh)) && nn < 64) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)
			names[nn++] = lp_strdup(de->d_name);
	}
	if (dh)
		closedir(dh);
	qsort(names, nn, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char path[1024];
		struct lp_yaml_docs d;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (lp_yaml_load_file(&d, path) != LP_OK)
			lp_test_fail(__FILE__, __LINE__, "%s: %s", names[i], d.error);
		s->files++;
		for (size_t k = 0; k < d.n; k++) {
			const char *kind = json_string_value(json_object_get(d.v[k].root, "kind"));
			struct lp_problems pr = {NULL, 0};
			lp_err e = LP_OK;
			if (!kind)
				continue;
			if (strcmp(kind, "LogPipeline") == 0 && s->np < 64)
				e = lp_pipeline_parse(&s->p[s->np++], d.v[k].root, &pr);
			else if (strcmp(kind, "LogOutput") == 0 && s->no < 64)
				e = lp_output_parse(&s->o[s->no++], d.v[k].root, &pr);
			if (e != LP_OK)
				lp_test_fail(__FILE__, __LINE__, "%s doc %zu: %s: %s", names[i],
				             k + 1, pr.n ? pr.v[0].field : "?",
				             pr.n ? pr.v[0].message : lp_strerror(e));
			lp_problems_free(&pr);
		}
		lp_yaml_docs_free(&d);
		lp_free(names[i]);
	}
	lp_free(dir);
}

static void free_examples(struct ex_set *s)
{
	for (size_t i = 0; i < s->np; i++)
		lp_pipeline_free(s->p[i]);
	for (size_t i = 0; i < s->no; i++)
		lp_output_free(s->o[i]);
}

static const struct lp_pipeline *find_p(const struct ex_set *s, const char *ns, const char *n)
{
	for (size_t i = 0; i < s->np; i++)
		if (s->p[i] && strcmp(s->p[i]->meta.ns, ns) == 0 &&
		    strcmp(s->p[i]->meta.name, n) == 0)
			return s->p[i];
	lp_test_fail(__FILE__, __LINE__, "LogPipeline %s/%s not in examples", ns, n);
	return NULL;
}

static const struct lp_output *find_o(const struct ex_set *s, const char *ns, const char *n)
{
	for (size_t i = 0; i < s->no; i++)
		if (s->o[i] && strcmp(s->o[i]->meta.ns, ns) == 0 &&
		    strcmp(s->o[i]->meta.name, n) == 0)
			return s->o[i];
	lp_test_fail(__FILE__, __LINE__, "LogOutput %s/%s not in examples", ns, n);
	return NULL;
}

static void t_examples(void)
{
	struct ex_set s;
	struct lp_world w;
	const struct lp_pipeline *p;
	const struct lp_output *o;

	load_examples(&s);
	LP_CHECK(s.files >= 5);
	/* every example validates against the whole set */
	memset(&w, 0, sizeof(w));
	w.outputs = (const struct lp_output *const *)s.o;
	w.n_outputs = s.no;
	for (size_t i = 0; i < s.np; i++) {
		struct lp_problems pr = {NULL, 0};
		if (s.p[i] && lp_pipeline_validate(s.p[i], &w, &pr) != LP_OK)
			lp_test_fail(__FILE__, __LINE__, "%s: %s: %s", s.p[i]->meta.name,
			             pr.n ? pr.v[0].field : "?", pr.n ? pr.v[0].message : "?");
		lp_problems_free(&pr);
	}
	for (size_t i = 0; i < s.no; i++) {
		struct lp_problems pr = {NULL, 0};
		if (s.o[i] && lp_output_validate(s.o[i], &w, &pr) != LP_OK)
			lp_test_fail(__FILE__, __LINE__, "%s: %s: %s", s.o[i]->meta.name,
			             pr.n ? pr.v[0].field : "?", pr.n ? pr.v[0].message : "?");
		lp_problems_free(&pr);
	}

	/* (1) app logs vs system logs, Java stack traces, Kinesis provisioned */
	if ((p = find_p(&s, "logplane-system", "eks-apps"))) {
		LP_CHECK_INT(p->has_app, 1);
		LP_CHECK_INT(p->system, 0);
		LP_CHECK(p->app.ns_exclude.n >= 1);
		LP_CHECK(p->multiline.builtin & LP_ML_JAVA);
		LP_CHECK_INT(p->parse.format, LP_PARSE_REGEX);
		LP_CHECK_STR(p->routes[0].output_ref, "app-stream");
	}
	if ((p = find_p(&s, "logplane-system", "eks-system"))) {
		LP_CHECK_INT(p->system, 1);
		LP_CHECK(!(p->has_app && p->app.enabled));
	}
	if ((o = find_o(&s, "logplane-system", "app-stream"))) {
		LP_CHECK_INT(o->type, LP_OUT_KINESIS);
		LP_CHECK_INT(o->u.kinesis.provision.present, 1);
		LP_CHECK(o->u.kinesis.provision.shard_count >= 1);
	}
	/* (2) Kinesis -> Firehose -> S3 with large buffers */
	if ((o = find_o(&s, "logplane-system", "archive-firehose"))) {
		LP_CHECK_INT(o->type, LP_OUT_FIREHOSE);
		LP_CHECK_INT(o->u.firehose.provision.present, 1);
		LP_CHECK_INT(o->u.firehose.provision.buffering_size_mib, 128);
		LP_CHECK_INT(o->u.firehose.provision.buffering_interval_seconds, 900);
		LP_CHECK(o->u.firehose.provision.source_stream != NULL);
	}
	/* (3) OpenSearch and errors only to Slack */
	if ((p = find_p(&s, "logplane-system", "search-and-alerts"))) {
		LP_CHECK_INT(p->n_routes, 2);
		LP_CHECK_INT(p->routes[1].op, LP_ROUTE_IN);
		LP_CHECK_STR(p->routes[1].output_ref, "slack-errors");
	}
	if ((o = find_o(&s, "logplane-system", "slack-errors")))
		LP_CHECK_INT(o->type, LP_OUT_SLACK);
	if ((o = find_o(&s, "logplane-system", "opensearch")))
		LP_CHECK_INT(o->type, LP_OUT_OPENSEARCH);
	/* (4) JSON flattened to CloudWatch */
	if ((p = find_p(&s, "logplane-system", "json-to-cloudwatch"))) {
		LP_CHECK_INT(p->parse.format, LP_PARSE_JSON);
		/* fields are kept before the flatten, which would turn the pod
		 * metadata "kubernetes" into kubernetes_pod_name and so on */
		LP_CHECK_INT(p->n_transforms, 3);
		if (p->n_transforms == 3) {
			LP_CHECK_INT(p->transforms[1].kind, LP_TR_KEEP_FIELDS);
			LP_CHECK_INT(p->transforms[2].kind, LP_TR_FLATTEN);
		}
	}
	if ((o = find_o(&s, "logplane-system", "cloudwatch")))
		LP_CHECK_INT(o->type, LP_OUT_CLOUDWATCH);
	/* (5) a tenant with its own pipeline and output */
	if ((p = find_p(&s, "team-a", "team-a-logs")))
		LP_CHECK_STR(p->routes[0].output_ref, "team-a-s3");
	if ((o = find_o(&s, "team-a", "team-a-s3"))) {
		LP_CHECK_INT(o->type, LP_OUT_S3);
		LP_CHECK(o->aws.credentials.secret_name != NULL);
	}
	free_examples(&s);
}

/* ---------- robustness: every value of every example replaced by junk ---------- */

struct mut_stats {
	size_t runs, invalid;
};

static int printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return s != NULL;
}

static void parse_any(const json_t *root, struct mut_stats *st)
{
	struct lp_problems pr = {NULL, 0};
	const char *kind = json_string_value(json_object_get(root, "kind"));
	struct lp_world w;
	lp_err e;

	memset(&w, 0, sizeof(w));
	if (kind && strcmp(kind, "LogOutput") == 0) {
		struct lp_output *o = NULL;
		e = lp_output_parse(&o, root, &pr);
		if (o && lp_output_validate(o, &w, &pr) == LP_ERR_INVALID)
			e = LP_ERR_INVALID;
		lp_output_free(o);
	} else {
		struct lp_pipeline *p = NULL;
		e = lp_pipeline_parse(&p, root, &pr);
		if (p && lp_pipeline_validate(p, &w, &pr) == LP_ERR_INVALID)
			e = LP_ERR_INVALID;
		lp_pipeline_free(p);
	}
	st->runs++;
	if (e == LP_ERR_INVALID) {
		st->invalid++;
		LP_CHECK(pr.n > 0);
	}
	LP_CHECK(e == LP_OK || e == LP_ERR_INVALID);
	for (size_t i = 0; i < pr.n; i++) {
		LP_CHECK(printable(pr.v[i].field));
		LP_CHECK(printable(pr.v[i].message));
	}
	lp_problems_free(&pr);
}

/* Replaces each node under v (in place, restoring it afterwards) with each junk
 * value and parses the whole object. */
static void mutate(json_t *root, json_t *v, struct mut_stats *st, int depth)
{
	json_t *junk[] = {json_string("x\n@INCLUDE y"),
	                  json_integer(-1),
	                  json_true(),
	                  json_null(),
	                  json_array(),
	                  json_object(),
	                  json_string(""),
	                  json_integer(1LL << 40),
	                  json_string("(?<a>")};
	const size_t nj = sizeof(junk) / sizeof(junk[0]);

	if (depth > 12)
		goto out;
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, c)
		{
			json_t *keep = json_incref(c);
			for (size_t i = 0; i < nj; i++) {
				json_object_set(v, k, junk[i]);
				parse_any(root, st);
			}
			json_object_set(v, k, keep);
			mutate(root, keep, st, depth + 1);
			json_decref(keep);
		}
	} else if (json_is_array(v)) {
		for (size_t idx = 0; idx < json_array_size(v); idx++) {
			json_t *keep = json_incref(json_array_get(v, idx));
			for (size_t i = 0; i < nj; i++) {
				json_array_set(v, idx, junk[i]);
				parse_any(root, st);
			}
			json_array_set(v, idx, keep);
			mutate(root, keep, st, depth + 1);
			json_decref(keep);
		}
	}
out:
	for (size_t i = 0; i < nj; i++)
		json_decref(junk[i]);
}

static void t_mutations(void)
{
	char *dir = examples_dir();
	const char *files[] = {"01-eks-app-vs-system.yaml", "02-kinesis-firehose-s3.yaml",
	                       "03-opensearch-slack-errors.yaml", "04-json-flatten-cloudwatch.yaml",
	                       "05-tenant-namespace.yaml"};
	struct mut_stats st = {0, 0};

	for (size_t f = 0; dir && f < LP_TEST_COUNT(files); f++) {
		char path[1024];
		struct lp_yaml_docs d;
		snprintf(path, sizeof(path), "%s/%s", dir, files[f]);
		LP_CHECK_INT(lp_yaml_load_file(&d, path), LP_OK);
		for (size_t k = 0; k < d.n; k++) {
			const char *api =
			    json_string_value(json_object_get(d.v[k].root, "apiVersion"));
			if (api && strcmp(api, LP_API_GROUP_VERSION) == 0)
				mutate(d.v[k].root, d.v[k].root, &st, 0);
		}
		lp_yaml_docs_free(&d);
	}
	lp_free(dir);
	printf("# mutations: %zu parses, %zu invalid\n", st.runs, st.invalid);
	LP_CHECK(st.runs > 1000);
	LP_CHECK(st.invalid > st.runs / 2);
}

/* The output-type descriptor points at each type's own TLS, auth and AWS
 * blocks, and at nothing for a type without them. */
static void t_output_type_desc(void)
{
	struct lp_output o;

	memset(&o, 0, sizeof(o));
	o.type = LP_OUT_HTTP;
	LP_CHECK(lp_output_tls(&o) == &o.u.http.tls);
	LP_CHECK(lp_output_auth(&o) == &o.u.http.auth);
	LP_CHECK(lp_output_aws_target(&o) == NULL && !lp_output_provision(&o));
	o.type = LP_OUT_ELASTICSEARCH;
	LP_CHECK(lp_output_tls(&o) == &o.u.search.tls);
	o.type = LP_OUT_FORWARD;
	LP_CHECK(lp_output_tls(&o) == &o.u.forward.tls && lp_output_auth(&o) == NULL);
	memset(&o, 0, sizeof(o));
	o.type = LP_OUT_FIREHOSE;
	o.u.firehose.delivery_stream = "ds";
	o.u.firehose.provision.present = 1;
	LP_CHECK_STR(lp_output_aws_target(&o), "ds");
	LP_CHECK_INT(lp_output_provision(&o), 1);
	LP_CHECK(lp_output_tls(&o) == NULL && lp_output_type_is_aws(o.type));
	o.type = LP_OUT_STDOUT;
	LP_CHECK(!lp_output_type_is_aws(o.type) && lp_output_aws_target(&o) == NULL);
	for (int t = LP_OUT_NONE + 1; t < LP_OUT_TYPE_COUNT; t++)
		LP_CHECK_INT(lp_output_type_parse(lp_output_type_name((enum lp_output_type)t)), t);
	LP_CHECK(lp_output_type_desc(LP_OUT_NONE) == NULL && lp_output_tls(NULL) == NULL);
	/* the accessors added for the other layers */
	memset(&o, 0, sizeof(o));
	o.type = LP_OUT_CLOUDWATCH;
	o.u.cloudwatch.provision.deletion_policy = LP_DELETION_DELETE;
	LP_CHECK_INT(lp_output_deletion(&o), LP_DELETION_DELETE);
	LP_CHECK(lp_output_signs_aws(&o) && lp_output_host(&o) == NULL);
	memset(&o, 0, sizeof(o));
	o.type = LP_OUT_OPENSEARCH;
	o.u.search.host = "es.example";
	LP_CHECK(!lp_output_signs_aws(&o));
	o.u.search.aws_auth = 1;
	LP_CHECK(lp_output_signs_aws(&o));
	LP_CHECK_STR(lp_output_host(&o), "es.example");
	LP_CHECK_INT(lp_output_deletion(&o), LP_DELETION_RETAIN);
	o.type = LP_OUT_ELASTICSEARCH; /* never signs: no awsAuth */
	LP_CHECK(!lp_output_signs_aws(&o));
	/* every descriptor is whole: what the layers call is there, and every key
	 * row can be rendered (a member, a value or a hook) and documented */
	for (int t = LP_OUT_NONE + 1; t < LP_OUT_TYPE_COUNT; t++) {
		const struct lp_output_type_desc *d = lp_output_type_desc((enum lp_output_type)t);
		int ok =
		    d && d->name && d->fb_plugin && d->parse && d->clear && d->check && d->keys &&
		    d->n_keys > 0 &&
		    (!d->aws || (d->aws_service && d->aws_what && d->target >= 0 && d->aws_facts));
		for (size_t i = 0; ok && i < d->n_keys; i++) {
			const struct lp_out_key *k = &d->keys[i];
			switch (k->kind) {
			case LP_KEY_HOOK:
				ok = k->hook != 0 && (k->fb_key || !k->field);
				break;
			case LP_KEY_CONST:
				ok = k->fb_key && k->def;
				break;
			case LP_KEY_BOOL:
				ok = k->fb_key != NULL;
				break;
			default:
				ok = k->fb_key && k->off >= 0 &&
				     (size_t)k->off < sizeof(struct lp_output);
				break;
			}
		}
		if (!ok)
			lp_test_fail(__FILE__, __LINE__, "descriptor of type %d incomplete", t);
	}
	/* the type's own Secret references: http's header values */
	{
		struct lp_http_header hd[2];
		struct lp_output_secret sec;
		const struct lp_output_type_desc *d = lp_output_type_desc(LP_OUT_HTTP);
		memset(&o, 0, sizeof(o));
		memset(hd, 0, sizeof(hd));
		o.type = LP_OUT_HTTP;
		hd[1].value_from.name = "hdr";
		hd[1].value_from.key = "k";
		o.u.http.headers = hd;
		o.u.http.n_headers = 2;
		LP_CHECK(d->secret(&o, 0, &sec) && sec.name == NULL);
		LP_CHECK(d->secret(&o, 1, &sec) && sec.header == 1);
		LP_CHECK_STR(sec.name, "hdr");
		LP_CHECK_STR(sec.field, "spec.http.headers[1].valueFrom.secretKeyRef");
		LP_CHECK(!d->secret(&o, 2, &sec));
		LP_CHECK(lp_output_type_desc(LP_OUT_KAFKA)->secret == NULL);
	}
}

static const struct lp_test tests[] = {
    {"output_type_desc", t_output_type_desc},
    {"pipeline_defaults", t_pipeline_defaults},
    {"output_defaults", t_output_defaults},
    {"shared_ok", t_shared_ok},
    {"output_defaults_by_type", t_output_defaults_by_type},
    {"tenant_ok", t_tenant_ok},
    {"clashes", t_clashes},
    {"parse_edges", t_parse_edges},
    {"names", t_names},
    {"sizes_durations", t_sizes_durations},
    {"string_classes", t_string_classes},
    {"regex", t_regex},
    {"yaml", t_yaml},
    {"examples_round_trip", t_examples},
    {"mutations_no_crash", t_mutations},
};

int main(void)
{
	int rc = lp_test_main("api", tests, LP_TEST_COUNT(tests));
	size_t passed = 0;

	/* the bad-input table: one line per case */
	for (size_t i = 0; i < LP_TEST_COUNT(bad_cases); i++)
		passed += (size_t)run_bad(i);
	if (LP_TEST_COUNT(bad_cases) < 40) {
		printf("FAIL api:bad_table_size: %zu cases, want at least 40\n",
		       LP_TEST_COUNT(bad_cases));
		rc = 1;
	}
	fflush(stdout);
	return (rc || passed != LP_TEST_COUNT(bad_cases)) ? 1 : 0;
}
