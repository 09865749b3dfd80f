/* pkg/api: the two logplane.io/v1alpha1 kinds as typed C structs.
 *
 * Ownership: every struct owns its strings and arrays; lp_pipeline_free() /
 * lp_output_free() release everything (NULL-safe). Strings are NUL-terminated
 * UTF-8; an absent optional string is NULL. Counts accompany every array.
 * "Unset" integers are 0 unless noted; the defaults noted on each field are
 * applied by lp_pipeline_parse() / lp_output_parse() to the struct, never
 * written back to the user's object (docs/resources.md lists them all).
 *
 * Field names follow the CRD (camelCase there, snake_case here). The CRD in
 * crds/ and the parsers in pipeline.c and output.c must agree with this file.
 */
#ifndef LP_API_H
#define LP_API_H
#include <stddef.h>
#include <stdint.h>
#include "../util/err.h"

#define LP_API_GROUP                 "logplane.io"
#define LP_API_VERSION               "v1alpha1"
#define LP_API_GROUP_VERSION         "logplane.io/v1alpha1"
#define LP_DEFAULT_CONTROL_NAMESPACE "logplane-system"

/* A status condition's status, as the controller writes it and the steps that
 * decide one (pkg/aws) report it. */
enum lp_cond_status { LP_COND_UNKNOWN = 0, LP_COND_TRUE, LP_COND_FALSE };

/* One condition as a step reports it (CredentialsResolved, Provisioned). */
struct lp_cond_report {
	enum lp_cond_status status;
	char reason[64]; /* CamelCase */
	char message[1024];
};

/* ---------- shared pieces ---------- */

struct lp_meta {
	char *name;
	char *ns;
	char *uid;
	char *resource_version; /* opaque: compare for equality only */
	int64_t generation;
	int deleting; /* metadata.deletionTimestamp is set */
	/* metadata.creationTimestamp, seconds since the epoch (0 when absent);
	 * a number, not the text: one of these per cached resource */
	int64_t created;
};

/* The orders of resources every part uses (NULL strings as ""): by namespace,
 * then name; and by namespace, then creation, then name (the order limits and
 * shares keep a namespace's oldest resources in). */
int lp_meta_cmp(const struct lp_meta *a, const struct lp_meta *b);
int lp_meta_cmp_created(const struct lp_meta *a, const struct lp_meta *b);

struct lp_kv { /* one key/value pair; arrays of these are kept sorted by key */
	char *key;
	char *value;
};

struct lp_secret_key_ref { /* a key of a Secret in the resource's own namespace */
	char *name;
	char *key;
};

struct lp_strlist {
	char **v;
	size_t n;
};

/* ---------- LogOutput ---------- */

enum lp_output_type {
	LP_OUT_NONE = 0,
	LP_OUT_KINESIS,
	LP_OUT_FIREHOSE,
	LP_OUT_S3,
	LP_OUT_CLOUDWATCH,
	LP_OUT_OPENSEARCH,
	LP_OUT_ELASTICSEARCH,
	LP_OUT_KAFKA,
	LP_OUT_LOKI,
	LP_OUT_HTTP,
	LP_OUT_SLACK,
	LP_OUT_FORWARD,
	LP_OUT_STDOUT,
	LP_OUT_LIVETAIL,
	LP_OUT_ALERT,
	LP_OUT_TYPE_COUNT
};

/* "kinesis", "firehose", ... as in the CRD enum; NULL for out of range. */
const char *lp_output_type_name(enum lp_output_type t);
/* LP_OUT_NONE when unknown. */
enum lp_output_type lp_output_type_parse(const char *s);
/* kinesis, firehose, s3, cloudwatch */
int lp_output_type_is_aws(enum lp_output_type t);
struct lp_output;
/* livetail, alert: the agents send the records to the hub (logplane-hub) */
int lp_output_type_via_hub(enum lp_output_type t);
/* A livetail or alert output's maxRecordsPerSecond (what the agents let
 * through per node), else 0. */
int lp_output_hub_rate(const struct lp_output *o);
/* o's alert settings when it is an alert output, else NULL. */
const struct lp_out_alert *lp_output_alert(const struct lp_output *o);

enum lp_delivery_mode { LP_DELIVERY_AT_LEAST_ONCE = 0, LP_DELIVERY_AT_MOST_ONCE };

struct lp_delivery {
	enum lp_delivery_mode mode; /* spec.delivery.mode, default atLeastOnce */
	int retry_limit;            /* spec.delivery.retryLimit, 1..100, default 10 */
	char *buffer_limit;  /* spec.delivery.bufferLimit, quantity like "1G", NULL when unset:
	                        then the chart's fluentBit.storage.totalLimitSize on the
	                        shipper, 1G on the aggregator (storage.total_limit_size) */
	char *mem_buf_limit; /* spec.delivery.memBufLimit, default "5M" */
};

enum lp_deletion_policy { LP_DELETION_RETAIN = 0, LP_DELETION_DELETE };

struct lp_aws_credentials {
	char *secret_name;           /* credentials.secretRef.name */
	char *access_key_id_key;     /* credentials.secretRef.accessKeyIdKey, default
	                                "AWS_ACCESS_KEY_ID" */
	char *secret_access_key_key; /* ...secretAccessKeyKey, default "AWS_SECRET_ACCESS_KEY" */
	char *session_token_key;     /* ...sessionTokenKey, optional */
	char *role_arn;              /* credentials.roleArn: assumed on top of the chain */
	char *external_id;           /* credentials.externalId */
};

struct lp_aws {
	char *region;   /* spec.aws.region (required for AWS types) */
	char *endpoint; /* spec.aws.endpoint, URL override (emulators, LocalStack, MinIO) */
	struct lp_aws_credentials credentials;
};

struct lp_kinesis_provision {
	int present;         /* spec.kinesis.provision given */
	int on_demand;       /* mode: onDemand (1) | provisioned (0, default) */
	int shard_count;     /* default 1 when provisioned */
	int retention_hours; /* 24..8760, default 24 */
	char *kms_key_id;    /* encryption with KMS when set ("alias/aws/kinesis" allowed) */
	int encrypt;         /* encryption.enabled */
	struct lp_kv *tags;
	size_t n_tags;
	enum lp_deletion_policy deletion_policy;
};

struct lp_out_kinesis {
	char *stream;   /* required */
	char *time_key; /* optional, adds a timestamp key */
	struct lp_kinesis_provision provision;
};

struct lp_firehose_provision {
	int present;
	char *source_stream;    /* Kinesis stream name feeding the delivery stream (optional:
	                           direct PUT when absent) */
	char *bucket;           /* destination bucket (required) */
	char *prefix;           /* S3 prefix */
	char *error_prefix;     /* S3 error output prefix */
	int buffering_size_mib; /* 1..128, default 64 */
	int buffering_interval_seconds; /* 0..900, default 300 */
	char *compression; /* UNCOMPRESSED|GZIP|ZIP|Snappy|HADOOP_SNAPPY, default GZIP */
	char *role_arn;    /* role Firehose uses (required) */
	struct lp_kv *tags;
	size_t n_tags;
	enum lp_deletion_policy deletion_policy;
};

struct lp_out_firehose {
	char *delivery_stream; /* required */
	char *time_key;
	struct lp_firehose_provision provision;
};

struct lp_s3_provision {
	int present;
	int expiration_days; /* lifecycle expiry, 0 = none */
	char *encryption;    /* "AES256" (default) | "aws:kms" */
	char *kms_key_id;
	int block_public_access; /* default 1 */
	struct lp_kv *tags;
	size_t n_tags;
	enum lp_deletion_policy deletion_policy;
};

struct lp_out_s3 {
	char *bucket;          /* required */
	char *key_format;      /* keyFormat with {namespace} {pod} {container} {pipeline}
	                        * placeholders; NULL: LP_S3_KEY_DEFAULT_APP / _OTHER */
	char *total_file_size; /* quantity, default "100M" */
	char *upload_timeout;  /* duration, default "10m" */
	char *compression;     /* gzip (default) | none */
	char *storage_class;   /* optional */
	struct lp_s3_provision provision;
};

struct lp_cloudwatch_provision {
	int present;
	int retention_days; /* one of CloudWatch's allowed values, 0 = never expire */
	struct lp_kv *tags;
	size_t n_tags;
	enum lp_deletion_policy deletion_policy;
};

struct lp_out_cloudwatch {
	char *log_group;         /* required */
	char *log_stream_prefix; /* default "fluent-bit-" */
	struct lp_cloudwatch_provision provision;
};

struct lp_tls {
	int enabled;          /* tls.enabled, default 1 for remote network outputs except forward */
	int verify;           /* tls.verify, default 1 */
	char *ca_secret_name; /* optional Secret holding ca.crt */
};

struct lp_basic_auth {      /* username and password read from a Secret */
	char *secret_name;  /* auth.secretRef.name */
	char *username_key; /* default "username" */
	char *password_key; /* default "password" */
};

struct lp_out_search {         /* opensearch and elasticsearch */
	char *host;            /* required */
	int port;              /* default 9200 */
	char *index;           /* default "logs" (ignored with logstash_prefix) */
	char *logstash_prefix; /* when set: daily indices PREFIX-YYYY.MM.DD */
	int aws_auth;          /* opensearch only: sign with SigV4 (Amazon OpenSearch Service) */
	char *aws_region;
	struct lp_tls tls;
	struct lp_basic_auth auth; /* secret_name NULL = none */
};

struct lp_out_kafka {
	struct lp_strlist brokers; /* "host:port" each, at least one */
	char *topic;               /* required */
	char *format;              /* json (default) | msgpack | raw */
};

struct lp_out_loki {
	char *host;           /* required */
	int port;             /* default 3100 */
	struct lp_kv *labels; /* static labels, sorted */
	size_t n_labels;
	char *tenant_id;
	struct lp_tls tls;
	struct lp_basic_auth auth;
};

struct lp_http_header { /* header value literal or from a Secret (one of) */
	char *name;
	char *value;
	struct lp_secret_key_ref value_from; /* name NULL = literal value */
};

struct lp_out_http {
	char *host;   /* required */
	int port;     /* default 443 with TLS, 80 without */
	char *uri;    /* default "/" */
	char *format; /* json (default) | json_lines | msgpack */
	struct lp_http_header *headers;
	size_t n_headers;
	struct lp_tls tls;
	struct lp_basic_auth auth;
};

struct lp_out_slack {
	struct lp_secret_key_ref webhook; /* Secret key holding the https webhook URL (required) */
};

struct lp_out_forward {
	char *host;                          /* required */
	int port;                            /* default 24224 */
	struct lp_secret_key_ref shared_key; /* optional */
	struct lp_tls tls;                   /* default off */
};

struct lp_out_stdout {
	char *format; /* json_lines (default) | msgpack | json */
};

struct lp_out_livetail {            /* records streamed to the operator's live-tail websocket hub */
	int max_records_per_second; /* default 100 */
};

/* Records grouped by the hub and posted to Slack (docs/alerts.md). */
struct lp_out_alert {
	struct lp_secret_key_ref slack_webhook; /* slack.webhookSecretRef: https URL (required) */
	int window_seconds;                     /* 1..86400, default 60 */
	int max_per_minute;                     /* messages per minute, 1..600, default 10 */
	int max_records_per_second;             /* per node, 1..10000, default 1000 */
};

struct lp_output {
	struct lp_meta meta;
	enum lp_output_type type; /* spec.type, required */
	/* spec.sharedWith.namespaces: tenant namespaces whose pipelines may route
	 * here (an output of the control namespace only) */
	struct lp_strlist shared_with;
	struct lp_delivery delivery;
	struct lp_aws aws; /* AWS types only */
	union {
		struct lp_out_kinesis kinesis;
		struct lp_out_firehose firehose;
		struct lp_out_s3 s3;
		struct lp_out_cloudwatch cloudwatch;
		struct lp_out_search search; /* opensearch, elasticsearch */
		struct lp_out_kafka kafka;
		struct lp_out_loki loki;
		struct lp_out_http http;
		struct lp_out_slack slack;
		struct lp_out_forward forward;
		struct lp_out_stdout std_out;
		struct lp_out_livetail livetail;
		struct lp_out_alert alert;
	} u;
};

/* ---------- LogPipeline ---------- */

struct lp_in_application {
	int enabled;                  /* default 1 when input.application given */
	struct lp_strlist ns_include; /* namespaces.include (control ns only) */
	struct lp_strlist ns_exclude; /* namespaces.exclude */
	struct lp_kv *pod_labels;     /* podLabels: equality match on pod labels */
	size_t n_pod_labels;
	struct lp_strlist container_include;
	struct lp_strlist container_exclude;
};

struct lp_in_file {
	char *name;           /* files[].name, DNS label, used in the tag */
	char *path;           /* files[].path, absolute glob, outside /var/log/containers */
	char *metadata_regex; /* optional: named groups namespace_name, pod_name, container_name */
};

struct lp_in_http {
	int enabled;
	int port; /* default 9880 */
};

enum lp_builtin_multiline { /* bit flags */
	                    LP_ML_JAVA = 1 << 0,
	                    LP_ML_PYTHON = 1 << 1,
	                    LP_ML_GO = 1 << 2,
	                    LP_ML_CRI = 1 << 3,
	                    LP_ML_DOCKER = 1 << 4,
};

struct lp_ml_rule {
	char *state; /* "start_state" or a name */
	char *regex; /* Oniguruma regex */
	char *next_state;
};

struct lp_multiline {
	int present;
	unsigned builtin;         /* enum lp_builtin_multiline flags, from multiline.parsers[] */
	struct lp_ml_rule *rules; /* custom rules; must contain a start_state rule */
	size_t n_rules;
	int flush_timeout_ms; /* default 1000 */
};

enum lp_parse_format { LP_PARSE_NONE = 0, LP_PARSE_JSON, LP_PARSE_LOGFMT, LP_PARSE_REGEX };

struct lp_parse {
	enum lp_parse_format format;
	char *key;   /* record key to parse, default "log" */
	char *regex; /* LP_PARSE_REGEX: named groups */
	char *time_key;
	char *time_format;
	int keep_original; /* preserve_key, default 0 */
};

enum lp_transform_kind {
	LP_TR_FLATTEN = 1,
	LP_TR_DROP_FIELDS,
	LP_TR_KEEP_FIELDS,
	LP_TR_RENAME_FIELDS,
	LP_TR_ADD_FIELDS,
	LP_TR_GREP,
	LP_TR_THROTTLE,
	LP_TR_DETECT_LEVEL,
};

struct lp_grep_rule {
	char *key; /* record key; "kubernetes.namespace_name" addresses nested keys */
	char *regex;
};

struct lp_transform {
	enum lp_transform_kind kind;
	union {
		struct {
			char *separator; /* default "." */
		} flatten;
		struct lp_strlist fields; /* dropFields / keepFields */
		struct {
			struct lp_kv *pairs; /* renameFields: key=from, value=to (order kept) */
			size_t n;
		} rename;
		struct {
			struct lp_kv *pairs; /* addFields: key, value (order kept) */
			size_t n;
			int overwrite; /* addFields.overwrite: set instead of add */
		} add;
		struct {
			struct lp_grep_rule *include; /* all must match (and) */
			size_t n_include;
			struct lp_grep_rule *exclude; /* any match drops (or) */
			size_t n_exclude;
		} grep;
		struct {
			int rate;       /* records per interval, required >= 1 */
			int window;     /* intervals averaged, default 5 */
			char *interval; /* duration, default "1s" */
			int per_pod;    /* 1: a Lua token bucket keyed by pod */
		} throttle;
		struct {
			char *source_key; /* default "log" */
			char *target_key; /* default "level" */
		} detect_level;
	} u;
};

enum lp_route_op { LP_ROUTE_ALL = 0, LP_ROUTE_IN, LP_ROUTE_REGEX };

struct lp_route {
	char *output_ref;           /* LogOutput name */
	char *output_ns;            /* outputNamespace: NULL = the pipeline's own */
	enum lp_route_op op;        /* match absent = all records */
	char *match_field;          /* match.field */
	struct lp_strlist match_in; /* match.in values */
	char *match_regex;          /* match.regex */
};

enum lp_aggregator_engine { LP_ENGINE_FLUENTBIT = 0, LP_ENGINE_FLUENTD };

struct lp_aggregator {
	int enabled;
	enum lp_aggregator_engine engine;
	int replicas;       /* default 2 */
	char *storage_size; /* default "10Gi" */
	/* LP_AGG_SET_* bits: which of engine, replicas, storageSize the spec sets
	 * (the shared aggregator's settings: only the control namespace may) */
	unsigned set;
};
#define LP_AGG_SET_ENGINE   1u
#define LP_AGG_SET_REPLICAS 2u
#define LP_AGG_SET_STORAGE  4u

struct lp_kubernetes_meta {
	int enabled;     /* default 1 */
	int labels;      /* default 1 */
	int annotations; /* default 0 */
};

enum lp_logmetric_type { LP_LOGMETRIC_COUNTER = 0, LP_LOGMETRIC_HISTOGRAM };

/* spec.metrics[]: numbers from the pipeline's records (Fluent Bit log_to_metrics). */
struct lp_logmetric {
	char *name;                  /* Prometheus name part: [a-z_][a-z0-9_]*, at most 64 */
	enum lp_logmetric_type type; /* counter | histogram */
	char *description;           /* optional help text */
	struct lp_strlist labels;    /* level, namespace, workload, pod or field:<key>; at most 4 */
	char *field;                 /* histogram: the numeric record key observed */
	double *buckets;             /* histogram: strictly increasing upper bounds, 1..16 */
	size_t n_buckets;
};
#define LP_METRICS_MAX       8 /* spec.metrics items per pipeline */
#define LP_METRIC_LABELS_MAX 4

struct lp_pipeline {
	struct lp_meta meta;
	struct lp_in_application app; /* spec.input.application */
	int has_app;
	int system;               /* spec.input.system.enabled */
	struct lp_in_file *files; /* spec.input.files */
	size_t n_files;
	struct lp_in_http http;               /* spec.input.http */
	struct lp_kubernetes_meta kubernetes; /* spec.kubernetes */
	struct lp_multiline multiline;        /* spec.multiline */
	struct lp_parse parse;                /* spec.parse */
	struct lp_transform *transforms;      /* spec.transforms, in order */
	size_t n_transforms;
	struct lp_route *routes; /* spec.routes, at least one */
	size_t n_routes;
	struct lp_aggregator aggregator; /* spec.aggregator */
	struct lp_logmetric *metrics;    /* spec.metrics */
	size_t n_metrics;
};

/* ---------- names, sizes, durations (names.c) ---------- */

/* Static names as spelled in the CRD; NULL when out of range. */
const char *lp_multiline_builtin_name(unsigned flag);         /* one LP_ML_* bit: "java", ... */
const char *lp_parse_format_name(enum lp_parse_format f);     /* "json", "logfmt", "regex" */
const char *lp_transform_kind_name(enum lp_transform_kind k); /* "flatten", "dropFields", ... */
const char *lp_delivery_mode_name(enum lp_delivery_mode m);   /* "atLeastOnce" | "atMostOnce" */

/* Size quantity to bytes: "512", "100M", "1G", "10Gi", "5MB" (whole numbers only, as Fluent
 * Bit reads sizes). k/K/KB/M/MB/G/GB/T/TB
 * are powers of 1000, Ki/Mi/Gi/Ti powers of 1024 (Kubernetes quantity and Fluent Bit size
 * syntax). Writes *bytes only on LP_OK; LP_ERR_INVALID for anything else or overflow. */
LP_WUR lp_err lp_size_parse(const char *s, uint64_t *bytes);
/* Duration to seconds: "30s", "10m", "1h", "2d", or a bare number of seconds. Writes
 * *seconds only on LP_OK; LP_ERR_INVALID otherwise (no fractions, no "ms"). */
LP_WUR lp_err lp_duration_parse(const char *s, uint64_t *seconds);

/* ---------- parse, defaults, validation ---------- */

/* A list of problems, each with the field path and a message a user can act on. */
struct lp_problem {
	char *field;   /* "spec.routes[1].outputRef" */
	char *message; /* "LogOutput \"audit\" not found in namespace \"team-a\"" */
};

struct lp_problems {
	struct lp_problem *v;
	size_t n; /* v is only ever grown by lp_problems_add: its capacity follows from n */
};

void lp_problems_free(struct lp_problems *p);
/* Appends a problem (printf-style message). Returns LP_ERR_NOMEM on failure. */
LP_WUR lp_err lp_problems_add(struct lp_problems *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------- entry points (pipeline.c, output.c, validate.c) ---------- */

typedef struct json_t json_t;

/* Parses one object of kind LogPipeline / LogOutput (the whole object with
 * apiVersion, kind, metadata, spec) into a new struct. Problems in the spec
 * (wrong types, unknown enum values, injection-prone strings) are appended to
 * probs and make the call return LP_ERR_INVALID; *out is then still set to a
 * partially filled struct the caller frees (so callers can report the name).
 * *out is NULL only on LP_ERR_NOMEM or when obj is not an object.
 * Defaults are applied to the struct, never to obj. */
LP_WUR lp_err lp_pipeline_parse(struct lp_pipeline **out, const json_t *obj,
                                struct lp_problems *probs);
LP_WUR lp_err lp_output_parse(struct lp_output **out, const json_t *obj, struct lp_problems *probs);
void lp_pipeline_free(struct lp_pipeline *p);
void lp_output_free(struct lp_output *o);

/* What cross-object validation may look at. All members borrowed. */
struct lp_world {
	const char *control_ns;                 /* LP_DEFAULT_CONTROL_NAMESPACE when NULL */
	const struct lp_output *const *outputs; /* every LogOutput known (valid or not) */
	size_t n_outputs;
	/* 1: outputs is sorted by lp_outputs_sort() (namespace, then name), so a
	 * reference is found by binary search instead of a scan of every output. */
	int outputs_sorted;
	/* Returns 1 when Secret ns/name exists and has key (key NULL: any key). NULL
	 * callback: secrets are not checked (offline `logplane validate`). */
	int (*secret_has_key)(void *ctx, const char *ns, const char *name, const char *key);
	void *secret_ctx;
	/* Every LogPipeline known (optional, may be NULL): used to find two pipelines
	 * opening the same input.http port. */
	const struct lp_pipeline *const *pipelines;
	size_t n_pipelines;
	/* Optional (admission): problems about objects that may simply not exist
	 * yet (a LogOutput a route names, a Secret or a key of it) are appended
	 * here instead of to probs and do not make validation fail, so a set of
	 * resources applied in any order is accepted with warnings. */
	struct lp_problems *ref_warnings;
	/* 1: plain http:// is allowed to any host for destinations that carry
	 * credentials (operator flag --allow-plain-http, warned about at start);
	 * 0: only to loopback addresses. */
	int allow_plain_http;
	/* Optional: 1 when Secret ns/name opted in to logplane (label
	 * LP_SECRET_OPT_IN_LABEL=LP_SECRET_OPT_IN_VALUE, or it is in the control
	 * namespace); a Secret that did not is never read. NULL: not checked. */
	int (*secret_allowed)(void *ctx, const char *ns, const char *name);
	/* Optional: the decoded value of key of Secret ns/name, new (lp_free),
	 * length in *len; NULL only for no memory (the key exists: secret_has_key),
	 * which fails the validation with LP_ERR_NOMEM. Used to check each value
	 * for the place it goes (secretval.h). NULL callback: values are not checked. */
	char *(*secret_value)(void *ctx, const char *ns, const char *name, const char *key,
	                      size_t *len);
	/* Optional (the operator's webhook; pkg/api cannot render): appends to
	 * probs what only a render tells about pipeline p that is otherwise valid
	 * (its text alone larger than a config part), so admission refuses what
	 * the operator would leave out. Errors: LP_ERR_NOMEM. */
	lp_err (*pipeline_render_check)(void *ctx, const struct lp_pipeline *p,
	                                const struct lp_world *w, struct lp_problems *probs);
	void *render_check_ctx;
};

/* The label a Secret carries to let logplane read it (docs/security.md):
 * someone who may label Secrets may read them already; someone who may only
 * write LogPipelines and LogOutputs may not. */
#define LP_SECRET_OPT_IN_LABEL "logplane.io/secret-access"
#define LP_SECRET_OPT_IN_VALUE "allow"

/* Sorts outputs by namespace, then name (NULL names first), for
 * lp_world.outputs_sorted. */
void lp_outputs_sort(const struct lp_output **outputs, size_t n);

/* The default keyFormat of an S3 output: for a pipeline whose only source is
 * application logs, and for any other (docs/aws.md "S3 object keys"). */
#define LP_S3_KEY_DEFAULT_APP   "/logs/{namespace}/{pipeline}/%Y/%m/%d/%H%M%S-$UUID.gz"
#define LP_S3_KEY_DEFAULT_OTHER "/logs/{pipeline}/%Y/%m/%d/%H%M%S-$UUID.gz"

/* The namespace of the LogOutput route r of p names: r->output_ns, else p's
 * own (borrowed; "default" when p has none). */
const char *lp_route_output_ns(const struct lp_pipeline *p, const struct lp_route *r);
/* 1 when o is shared with namespace ns (spec.sharedWith.namespaces). */
int lp_output_shared_with(const struct lp_output *o, const char *ns);

/* Cross-object rules: references resolve, tenancy, Secrets exist, and no two
 * objects claim the same thing (an input.http port; a provisioned stream,
 * delivery stream, bucket or log group). For such a clash the object that sorts
 * later by namespace/name gets the problem, so the first one keeps working.
 * Appends to probs; LP_ERR_INVALID when any problem was added by this call. */
LP_WUR lp_err lp_pipeline_validate(const struct lp_pipeline *p, const struct lp_world *w,
                                   struct lp_problems *probs);
LP_WUR lp_err lp_output_validate(const struct lp_output *o, const struct lp_world *w,
                                 struct lp_problems *probs);

/* ---------- output types: one descriptor each (pkg/api/outtypes.c) ----------
 *
 * Everything the code outside a type's own file needs to know of an output
 * type is in its descriptor: its name (spec.type and the sub-object key), its
 * Fluent Bit plugin, whether it is an AWS target, where its TLS block, basic
 * auth, AWS target and provision block are, the Secrets it references, and the
 * table of the Fluent Bit keys it renders (which also generates docs/fields.md,
 * the way Fluent Bit's config_map drives parsing, defaults and docs). The
 * parser, rules, validation, renderer, AWS provisioner and controller go
 * through it: adding an output type is one descriptor (pkg/api/out_*.c) plus
 * its render hooks, not a switch in every layer. */

struct lp_rd;  /* pkg/api/reader.h */
struct lp_chk; /* pkg/api/outtype.h */

/* How one Fluent Bit key of an output is rendered. */
enum lp_out_key_kind {
	LP_KEY_STR,   /* char * at off, else def; omitted when both NULL */
	LP_KEY_QSTR,  /* the same, always quoted */
	LP_KEY_SIZE,  /* a size quantity (char *) in Fluent Bit's spelling */
	LP_KEY_INT,   /* int at off when > 0, else idef */
	LP_KEY_BOOL,  /* int at off, or idef when off is -1 */
	LP_KEY_LIST,  /* struct lp_strlist at off, joined with ',' */
	LP_KEY_CONST, /* the string def */
	LP_KEY_HOOK   /* rendered by the renderer's hook number hook */
};

/* Render hooks: the keys no table row can say (pkg/render/fb_outputs.c). */
enum lp_out_hook {
	LP_HOOK_AWS = 1, /* region, endpoint host + port, role, profile */
	LP_HOOK_AWS_URL, /* the same with the endpoint as a URL (s3) */
	LP_HOOK_AUTH,    /* http_user / http_passwd from the basic auth Secret */
	LP_HOOK_TLS,     /* tls, tls.verify, tls.ca_file */
	LP_HOOK_SECRET,  /* the key named by fb_key from the type's Secret */
	LP_HOOK_S3_COMPRESSION,
	LP_HOOK_S3_STORE_DIR,
	LP_HOOK_S3_STORE_LIMIT,
	LP_HOOK_SEARCH_INDEX,
	LP_HOOK_SEARCH_AWS_AUTH,
	LP_HOOK_LOKI_LABELS,
	LP_HOOK_HTTP_PORT,
	LP_HOOK_HTTP_HEADERS,
	LP_HOOK_FORWARD_SHARED_KEY,
	LP_HOOK_FORWARD_ACK,
	LP_HOOK_LIVETAIL, /* host, port and uri /ingest/<ns>/<name> of the hub */
	/* s3_key_format in the pipeline's terms: an output with this row is one
	 * instance per pipeline on the aggregator too (fb_s3_key) */
	LP_HOOK_S3_KEY,
	LP_HOOK_ALERT /* host, port and uri /alert/<ns>/<name> of the hub */
};

/* One Fluent Bit key of an output type, in the order it is rendered. */
struct lp_out_key {
	const char *fb_key; /* the Fluent Bit key; for a hook the keys it renders, comma-separated
	                       (docs only, but LP_HOOK_SECRET's key), NULL for a generic hook */
	enum lp_out_key_kind kind;
	long off;        /* offsetof in struct lp_output, -1 for none */
	const char *def; /* default (STR, QSTR, SIZE) or the value (CONST) */
	int idef;        /* default (INT) or the value (BOOL with off -1) */
	enum lp_out_hook hook;
	const char *field;   /* docs: the CRD field (NULL: not a row of its own) */
	const char *fluentd; /* docs: the Fluentd setting */
	const char *note;    /* docs */
};

/* One Secret key an output type references besides TLS, auth and AWS
 * credentials (a header value, a webhook URL, a shared key). */
struct lp_output_secret {
	char field[96];          /* the CRD path, for problems */
	const char *name;        /* Secret name (NULL when not set) */
	const char *key;         /* key in it (NULL: default_key) */
	const char *default_key; /* what the renderer reads when key is NULL */
	int kind;                /* enum lp_secret_use (pkg/api/secretval.h) */
	const char *tls_for;     /* the need for TLS ("a header value from a Secret") or NULL */
	long header;             /* index into spec.http.headers, -1 otherwise */
};

struct lp_output_type_desc {
	const char *name;        /* spec.type as in the CRD enum, and the sub-object key */
	const char *fb_plugin;   /* the Fluent Bit output plugin */
	int aws;                 /* region, credentials, provision: an AWS API target */
	int body_optional;       /* the sub-object may be left out */
	int aws_url_endpoint;    /* spec.aws.endpoint is passed as a URL (not host + port) */
	int not_shared;          /* never shared with other namespaces (spec.sharedWith refused) */
	long tls;                /* struct lp_tls, -1 when none */
	long auth;               /* struct lp_basic_auth, -1 when none */
	long host;               /* char *: the host it sends to, -1 when none */
	long aws_auth;           /* int: signs its requests with AWS SigV4, -1 when never */
	long target;             /* char *: stream, delivery stream, bucket or log group */
	long provision;          /* int: the provision block's present flag */
	long deletion;           /* enum lp_deletion_policy of the provision block */
	const char *aws_service; /* the AWS API that provisions it ("kinesis", "logs") */
	const char *aws_what;    /* "Kinesis stream", "log group" */
	/* reads the sub-object body (NULL when left out) at path into o */
	void (*parse)(struct lp_rd *r, const json_t *body, const char *path, struct lp_output *o);
	void (*clear)(struct lp_output *o);                         /* frees what parse allocated */
	void (*check)(struct lp_chk *k, const struct lp_output *o); /* rules.c's rules */
	/* the i-th Secret reference into *s; 0 past the last */
	int (*secret)(const struct lp_output *o, size_t i, struct lp_output_secret *s);
	/* the settings of the AWS target that provisioning depends on, in a fixed
	 * order (the spec hash of pkg/aws) */
	void (*aws_facts)(const struct lp_output *o, void (*str)(void *, const char *),
	                  void (*num)(void *, long), void *arg);
	const struct lp_out_key *keys; /* the Fluent Bit keys, n_keys rows */
	size_t n_keys;
	/* worker threads of a pipeline route's output instance on the node: 0
	 * (flushes run as coroutines on Fluent Bit's engine loop) for plugins with
	 * non-blocking I/O, 1 where the plugin's flush blocks or needs a worker
	 * (read from 5.1.1: out_s3 turns async off and makes its blob timer in
	 * cb_s3_worker_init; the AWS outputs' credential providers run in sync
	 * mode; out_kafka can block in rd_kafka_poll) */
	int fb_workers;
	/* the agents send its records to the hub (livetail, alert): a throttled
	 * copy per route; its Secrets are the hub's, never the agents' */
	int via_hub;
	long hub_rate; /* int: maxRecordsPerSecond (when via_hub) */
};
/* The descriptor of t; NULL out of range. */
const struct lp_output_type_desc *lp_output_type_desc(enum lp_output_type t);
/* o's TLS block, basic auth, AWS target name, host; NULL when its type has none. */
const struct lp_tls *lp_output_tls(const struct lp_output *o);
const struct lp_basic_auth *lp_output_auth(const struct lp_output *o);
const char *lp_output_aws_target(const struct lp_output *o);
const char *lp_output_host(const struct lp_output *o);
/* 1 when o asks the operator to provision its AWS target. */
int lp_output_provision(const struct lp_output *o);
/* The deletion policy of o's provision block (Retain without one). */
enum lp_deletion_policy lp_output_deletion(const struct lp_output *o);
/* 1 when o's requests are signed with AWS credentials (an AWS type, or
 * opensearch with awsAuth). */
int lp_output_signs_aws(const struct lp_output *o);
/* The member at offset off of o (a key row's or a descriptor's), NULL for -1. */
const void *lp_output_member(const struct lp_output *o, long off);

#endif
