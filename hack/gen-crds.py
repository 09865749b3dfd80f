#!/usr/bin/env python3
"""Generates crds/logpipelines.yaml, crds/logoutputs.yaml and the field tables
of docs/resources.md (between its <!-- fields:KIND --> markers).

The schemas mirror pkg/api (pipeline.c and output.c check the same fields, with the same
limits, and more: regex compilation, tenancy, references). No `default:`
anywhere: defaults live in the operator, so GitOps tools never see drift.
Everything checkable from the object alone is also a CEL rule
(x-kubernetes-validations: exactly-one choices, cross-field rules, string
rules), so the API server refuses it even where the admission webhook is not
installed; each message starts with the field it is about, as the operator's
do. Rules that need other objects or the control namespace (references,
tenancy, clashes) are the webhook's. Every list and string a rule walks has
maxItems / maxLength, which keeps each rule's estimated cost far under the API
server's budget.

Usage: hack/gen-crds.py            write the files
       hack/gen-crds.py --check    exit 1 when the files differ from what it would write
"""
import os
import re
import sys

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------- building blocks ----------

CTRL = r"\x00-\x1f\x7f"
TEXT_RE = r"^([^@\[" + CTRL + r"][^" + CTRL + r"]*)?$"
REGEX_RE = r"^[^" + CTRL + r"]+$"
DNS_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUB_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY_RE = r"^[-._a-zA-Z0-9]+$"
FIELD_RE = r"^[A-Za-z0-9_@][A-Za-z0-9_./-]*$"
HOST_RE = r"^[A-Za-z0-9:.-]+$"
REGION_RE = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
URL_RE = r"^https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/%-]*)?$"
ARN_RE = r"^arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[^\s\"\\{}]+$"
SIZE_RE = r"^[0-9]+(k|K|KB|M|MB|G|GB|T|TB|Ki|Mi|Gi|Ti)?$"
DURATION_RE = r"^[0-9]+(s|m|h|d)?$"
TOKEN_RE = r"^[A-Za-z0-9_.-]+$"
AWS_NAME_RE = r"^[A-Za-z0-9_.-]+$"
BUCKET_RE = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
LOG_GROUP_RE = r"^[.\-_/#A-Za-z0-9]+$"


def rule(s, expr, message, field_path=None):
    """Adds a CEL rule to schema s (x-kubernetes-validations); returns s."""
    r = {"rule": expr, "message": message}
    if field_path:
        r["fieldPath"] = field_path
    s.setdefault("x-kubernetes-validations", []).append(r)
    return s


def obj(desc, props, required=None, **kw):
    s = {"type": "object", "description": desc, "properties": props}
    if required:
        s["required"] = required
    s.update(kw)
    return s


def arr(desc, items, **kw):
    s = {"type": "array", "description": desc, "items": items}
    s.update(kw)
    return s


def string(desc, pattern=None, max_len=None, min_len=None, enum=None, **kw):
    s = {"type": "string", "description": desc}
    if enum:
        s["enum"] = enum
    if pattern:
        s["pattern"] = pattern
    if min_len is not None:
        s["minLength"] = min_len
    if max_len is not None:
        s["maxLength"] = max_len
    s.update(kw)
    return s


def text(desc, max_len=1024):
    return string(desc, TEXT_RE, max_len)


def regex(desc):
    return string(desc, REGEX_RE, 4096, 1)


def field(desc):
    return string(desc, FIELD_RE, 128, 1)


def integer(desc, lo, hi):
    return {"type": "integer", "description": desc, "minimum": lo, "maximum": hi}


def boolean(desc):
    return {"type": "boolean", "description": desc}


def size(desc):
    return string(desc, SIZE_RE, 32)


def duration(desc):
    return string(desc, DURATION_RE, 32)


def dns_label(desc):
    return string(desc, DNS_LABEL_RE, 63, 1)


def secret_name(desc):
    return string(desc, DNS_SUB_RE, 253, 1)


def secret_key(desc):
    return string(desc, SECRET_KEY_RE, 253, 1)


def port(desc):
    return integer(desc, 1, 65535)


def secret_key_ref(desc):
    return obj(desc, {"name": secret_name("Secret in the same namespace."),
                      "key": secret_key("Key in the Secret's data.")}, ["name", "key"])


def tags():
    return {"type": "object", "description": "Tags set on the AWS resource (at most 50).",
            "maxProperties": 50,
            "additionalProperties": text("Tag value.", 256)}


def deletion_policy():
    return string("What happens to the AWS resource when the LogOutput is deleted: Retain "
                  "(default) keeps it, Delete removes it.", enum=["Retain", "Delete"])


def tls(default_on):
    on = "(!has(self.enabled) || self.enabled)" if default_on else "(has(self.enabled) && self.enabled)"
    return rule(_tls(default_on), on + " || (!has(self.verify) && !has(self.caSecretRef))",
                "tls: verify and caSecretRef need enabled: true")


def _tls(default_on):
    return obj("TLS to the destination (enabled by default)." if default_on else
               "TLS to the destination (disabled by default).", {
                   "enabled": boolean("Use TLS."),
                   "verify": boolean("Verify the server certificate (default true)."),
                   "caSecretRef": obj("Secret in the same namespace whose key ca.crt holds the CA "
                                      "bundle.", {"name": secret_name("Secret name.")}, ["name"]),
               })


def basic_auth():
    return obj("Basic authentication from a Secret in the same namespace.", {
        "secretRef": obj("The Secret.", {
            "name": secret_name("Secret name."),
            "usernameKey": secret_key("Key holding the user name (default username)."),
            "passwordKey": secret_key("Key holding the password (default password)."),
        }, ["name"]),
    }, ["secretRef"])


def conditions():
    return arr("Standard conditions: Ready, Valid, ConfigGenerated, AgentsReady (and "
               "CredentialsResolved, Provisioned on outputs).", obj("A condition.", {
                   "type": string("Condition type.", max_len=316),
                   "status": string("True, False or Unknown.", enum=["True", "False", "Unknown"]),
                   "reason": string("CamelCase reason.", max_len=1024),
                   "message": string("What is wrong, in words a user can act on.", max_len=32768),
                   "lastTransitionTime": string("When status last changed.", format="date-time"),
                   "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0,
                                          "description": "Generation the condition is about."},
               }, ["type", "status"]),
               **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})


def crd(plural, kind, short, spec, status, columns):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": plural + ".logplane.io",
                     "labels": {"app.kubernetes.io/name": "logplane",
                                "app.kubernetes.io/part-of": "logplane"}},
        "spec": {
            "group": "logplane.io",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                      "listKind": kind + "List", "shortNames": [short],
                      "categories": ["logplane"]},
            "versions": [{
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "%s (logplane.io/v1alpha1)." % kind,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                        "status": status,
                    },
                    "required": ["spec"],
                }},
            }],
        },
    }


READY_COLUMNS = [
    {"name": "Ready", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Reason", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

# ---------- LogOutput ----------

OUTPUT_TYPES = ["kinesis", "firehose", "s3", "cloudwatch", "opensearch", "elasticsearch", "kafka",
                "loki", "http", "slack", "forward", "stdout", "livetail", "alert"]


def search(desc, aws_auth):
    props = {
        "host": string("Host name or IP (no scheme).", HOST_RE, 253, 1),
        "port": port("Port (default 9200)."),
        "index": string("Index name (default logs).", TOKEN_RE, 255, 1),
        "logstashPrefix": string("Daily indices PREFIX-YYYY.MM.DD instead of one index.",
                                 TOKEN_RE, 200, 1),
        "tls": tls(True),
        "auth": basic_auth(),
    }
    if aws_auth:
        props["awsAuth"] = boolean("Sign requests with SigV4 (Amazon OpenSearch Service); "
                                   "region from spec.aws.region.")
    return obj(desc, props, ["host"])


def output_spec():
    return obj("Where logs go. Set spec.type and the sub-object of the same name.", {
        "type": string("Destination type.", enum=OUTPUT_TYPES),
        "sharedWith": obj("Namespaces whose LogPipelines may route here (a route with "
                          "outputNamespace set to this output's namespace). Only LogOutputs "
                          "of the control namespace are shared; their Secrets stay there.", {
            "namespaces": arr("Tenant namespace names.", dns_label("Namespace."), minItems=1,
                              maxItems=256, **{"x-kubernetes-list-type": "set"}),
        }, ["namespaces"]),
        "delivery": obj("Buffering and retries.", {
            "mode": string("atLeastOnce (default): filesystem buffer, bounded by bufferLimit, "
                           "blocks when full. atMostOnce: memory only.",
                           enum=["atLeastOnce", "atMostOnce"]),
            "retryLimit": integer("Retries per chunk before it is dropped (default 10).", 1, 100),
            "bufferLimit": size("Filesystem buffer per output on each node. Unset: the chart's "
                                "fluentBit.storage.totalLimitSize on the nodes (1G unless changed), "
                                "1G on the aggregator."),
            "memBufLimit": size("Memory buffer (default 5M)."),
        }),
        "aws": obj("AWS settings (kinesis, firehose, s3, cloudwatch; opensearch with awsAuth).", {
            "region": string("AWS region, e.g. us-east-1.", REGION_RE, 32),
            "endpoint": string("Endpoint override URL (LocalStack, MinIO, emulators).", URL_RE,
                               1024),
            "credentials": obj("Credentials: a Secret with access keys, and/or a role to "
                               "assume; without both, the operator's default chain (control "
                               "namespace only).", {
                                   "secretRef": obj("Secret in the same namespace.", {
                                       "name": secret_name("Secret name."),
                                       "accessKeyIdKey": secret_key(
                                           "Key of the access key id (default "
                                           "AWS_ACCESS_KEY_ID)."),
                                       "secretAccessKeyKey": secret_key(
                                           "Key of the secret access key (default "
                                           "AWS_SECRET_ACCESS_KEY)."),
                                       "sessionTokenKey": secret_key(
                                           "Key of a session token (optional)."),
                                   }, ["name"]),
                                   "roleArn": string("IAM role to assume.", ARN_RE, 2048),
                                   "externalId": text("External id for the role.", 1224),
                               }),
        }),
        "kinesis": obj("Kinesis Data Streams.", {
            "stream": string("Stream name.", AWS_NAME_RE, 128, 1),
            "timeKey": field("Add the record time under this key."),
            "provision": obj("Create and keep the stream.", {
                "mode": string("provisioned (default) or onDemand.",
                               enum=["provisioned", "onDemand"]),
                "shardCount": integer("Shards when provisioned (default 1).", 1, 10000),
                "retentionHours": integer("Retention (default 24).", 24, 8760),
                "encryption": obj("Server-side encryption.", {
                    "enabled": boolean("Encrypt with KMS."),
                    "kmsKeyId": string("KMS key (default alias/aws/kinesis).", max_len=2048),
                }),
                "tags": tags(),
                "deletionPolicy": deletion_policy(),
            }),
        }, ["stream"]),
        "firehose": obj("Kinesis Data Firehose.", {
            "deliveryStream": string("Delivery stream name.", AWS_NAME_RE, 64, 1),
            "timeKey": field("Add the record time under this key."),
            "provision": obj("Create and keep the delivery stream (to S3).", {
                "sourceStream": string("Kinesis stream to read from (direct PUT when absent).",
                                       AWS_NAME_RE, 128, 1),
                "bucket": string("Destination bucket.", BUCKET_RE, 63),
                "prefix": text("S3 prefix."),
                "errorPrefix": text("S3 prefix for failed records."),
                "bufferingSizeMiB": integer("Buffer size before a write (default 64).", 1, 128),
                "bufferingIntervalSeconds": integer("Buffer time before a write (default 300).",
                                                    0, 900),
                "compression": string("Object compression (default GZIP).",
                                      enum=["UNCOMPRESSED", "GZIP", "ZIP", "Snappy",
                                            "HADOOP_SNAPPY"]),
                "roleArn": string("Role Firehose assumes.", ARN_RE, 2048),
                "tags": tags(),
                "deletionPolicy": deletion_policy(),
            }, ["bucket", "roleArn"]),
        }, ["deliveryStream"]),
        "s3": obj("Amazon S3 (batched uploads).", {
            "bucket": string("Bucket name.", BUCKET_RE, 63),
            "keyFormat": string("Object key format: placeholders {namespace}, {pod}, "
                                "{container}, {pipeline}, strftime %Y %m %d %H %M %S, $UUID, "
                                "$INDEX; must contain $UUID or $INDEX (default "
                                "/logs/{namespace}/{pipeline}/%Y/%m/%d/%H%M%S-$UUID.gz for a "
                                "pipeline of application logs, /logs/{pipeline}/... for others; "
                                "docs/aws.md).",
                                r'^/([^\s\\{}"]|\{(namespace|pod|container|pipeline)\})*$',
                                1024),
            "totalFileSize": size("Object size to aim for (default 100M, 1M..50G)."),
            "uploadTimeout": duration("Upload whatever arrived after this long (default 10m)."),
            "compression": string("gzip (default) or none.", enum=["gzip", "none"]),
            "storageClass": string("Storage class.",
                                   enum=["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA",
                                         "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
                                         "DEEP_ARCHIVE", "GLACIER_IR"]),
            "provision": obj("Create and keep the bucket.", {
                "expirationDays": integer("Lifecycle expiry in days (0: none).", 0, 36500),
                "encryption": string("AES256 (default) or aws:kms.", enum=["AES256", "aws:kms"]),
                "kmsKeyId": string("KMS key for aws:kms.", max_len=2048),
                "blockPublicAccess": boolean("Block all public access (default true)."),
                "tags": tags(),
                "deletionPolicy": deletion_policy(),
            }),
        }, ["bucket"]),
        "cloudwatch": obj("CloudWatch Logs.", {
            "logGroup": string("Log group name.", LOG_GROUP_RE, 512, 1),
            "logStreamPrefix": string("Log stream prefix (default fluent-bit-).", LOG_GROUP_RE,
                                      256, 1),
            "provision": obj("Create and keep the log group.", {
                "retentionDays": {"type": "integer", "description": "Retention (0: never expire).",
                                  "enum": [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365,
                                           400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
                                           3653]},
                "tags": tags(),
                "deletionPolicy": deletion_policy(),
            }),
        }, ["logGroup"]),
        "opensearch": search("OpenSearch.", True),
        "elasticsearch": search("Elasticsearch.", False),
        "kafka": obj("Apache Kafka.", {
            "brokers": arr("Brokers as host:port.", string("host:port.", r"^[A-Za-z0-9:.\[\]-]+:[0-9]{1,5}$", 260),
                           minItems=1, maxItems=32),
            "topic": string("Topic.", TOKEN_RE, 249, 1),
            "format": string("json (default), msgpack or raw.", enum=["json", "msgpack", "raw"]),
        }, ["brokers", "topic"]),
        "loki": obj("Grafana Loki.", {
            "host": string("Host name or IP.", HOST_RE, 253, 1),
            "port": port("Port (default 3100)."),
            "labels": {"type": "object", "description": "Static labels (name: value).",
                       "maxProperties": 30, "additionalProperties": text("Label value.", 256)},
            "tenantId": string("X-Scope-OrgID.", TOKEN_RE, 150, 1),
            "tls": tls(True),
            "auth": basic_auth(),
        }, ["host"]),
        "http": obj("Generic HTTP endpoint.", {
            "host": string("Host name or IP.", HOST_RE, 253, 1),
            "port": port("Port (default 443 with TLS, 80 without)."),
            "uri": string("Path (default /).", r"^/[A-Za-z0-9._~/%!$&'()*+,;=:@?-]*$", 1024),
            "format": string("json (default), json_lines or msgpack.",
                             enum=["json", "json_lines", "msgpack"]),
            "headers": arr("Extra headers.", obj("A header: value or valueFrom.", {
                "name": string("Header name.", r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", 256, 1),
                "value": text("Literal value.", 4096),
                "valueFrom": obj("Value from a Secret.", {
                    "secretKeyRef": secret_key_ref("Secret key holding the value.")},
                    ["secretKeyRef"]),
            }, ["name"], maxProperties=2), maxItems=32),
            "tls": tls(True),
            "auth": basic_auth(),
        }, ["host"]),
        "slack": obj("Slack incoming webhook.", {
            "webhookSecretRef": secret_key_ref("Secret key holding the https webhook URL."),
        }, ["webhookSecretRef"]),
        "forward": obj("Fluent forward protocol (Fluentd, Fluent Bit).", {
            "host": string("Host name or IP.", HOST_RE, 253, 1),
            "port": port("Port (default 24224)."),
            "sharedKeySecretRef": secret_key_ref("Shared key for the handshake."),
            "tls": tls(False),
        }, ["host"]),
        "stdout": obj("Standard output of the shipper (debugging).", {
            "format": string("json_lines (default), json or msgpack.",
                             enum=["json_lines", "json", "msgpack"]),
        }),
        "livetail": obj("Copies of the routed records to the live-tail hub (the logplane-hub "
                        "Deployment, Service <release>-hub in the control namespace), where "
                        "logplane tail and the hub's page follow them; best effort, nothing "
                        "stored (docs/livetail.md).", {
            "maxRecordsPerSecond": integer("Rate cap per node (default 100); records over "
                                           "it are not copied.", 1, 10000),
        }),
        "alert": obj("Alerts through the hub: matching records are grouped (pipeline, namespace, "
                     "workload, message fingerprint) and posted to Slack once per group per "
                     "window with a count.", {
            "slack": obj("Slack incoming webhook.", {
                "webhookSecretRef": secret_key_ref(
                    "Secret key holding the https webhook URL (the Secret must opt in)."),
            }, ["webhookSecretRef"]),
            "windowSeconds": integer("A group posts at once, then at most once per window "
                                     "(default 60).", 1, 86400),
            "maxPerMinute": integer("Messages per minute to this target; what is held back is "
                                    "counted in the next message (default 10).", 1, 600),
            "maxRecordsPerSecond": integer("Rate cap per node on the way to the hub "
                                           "(default 1000).", 1, 10000),
        }, ["slack"]),
    }, ["type"])


def at(s, path):
    """The schema of a property path ("kinesis.provision", "headers[]") under s."""
    for part in path.split("."):
        if part.endswith("[]"):
            s = s["properties"][part[:-2]]["items"]
        else:
            s = s["properties"][part]
    return s


AWS_TYPES = ["kinesis", "firehose", "s3", "cloudwatch"]
NO_BODY_TYPES = ["stdout", "livetail"]  # their sub-object is optional


def output_rules(spec):
    """CEL rules of LogOutput.spec (the parser's single-object rules in pkg/api/output.c)."""
    for t in OUTPUT_TYPES:
        rule(spec, "self.type == '%s' || !has(self.%s)" % (t, t),
             "%s: not allowed with this type (set spec.type: %s or remove it)" % (t, t), "." + t)
        if t not in NO_BODY_TYPES:
            rule(spec, "self.type != '%s' || has(self.%s)" % (t, t),
                 "%s: required for type %s" % (t, t), "." + t)
    aws_list = ", ".join("'%s'" % t for t in AWS_TYPES)
    rule(spec, "!has(self.aws) || self.type in [%s, 'opensearch']" % aws_list,
         "aws: not used by this type", ".aws")
    rule(spec, "!(self.type in [%s]) || (has(self.aws) && has(self.aws.region))" % aws_list,
         "aws.region: required for this type", ".aws")
    aws_auth = ("(has(self.opensearch) && has(self.opensearch.awsAuth) && "
                "self.opensearch.awsAuth)")
    rule(spec, "self.type != 'opensearch' || !%s || (has(self.aws) && has(self.aws.region))"
         % aws_auth, "aws.region: required with opensearch.awsAuth", ".aws")
    rule(spec, "self.type != 'opensearch' || !has(self.aws) || %s" % aws_auth,
         "aws: only used with opensearch.awsAuth: true", ".aws")
    rule(at(spec, "aws.credentials"), "!has(self.externalId) || has(self.roleArn)",
         "externalId: needs roleArn", ".externalId")
    rule(at(spec, "kinesis.provision"),
         "!(has(self.mode) && self.mode == 'onDemand' && has(self.shardCount))",
         "shardCount: not used with mode onDemand (AWS scales the shards)", ".shardCount")
    rule(at(spec, "kinesis.provision.encryption"),
         "!has(self.kmsKeyId) || (has(self.enabled) && self.enabled)",
         "kmsKeyId: needs encryption.enabled: true", ".kmsKeyId")
    rule(at(spec, "s3"), "!has(self.keyFormat) || self.keyFormat.contains('$UUID') || "
         "self.keyFormat.contains('$INDEX')",
         "keyFormat: must contain $UUID or $INDEX, or objects overwrite each other",
         ".keyFormat")
    rule(at(spec, "s3"), "!has(self.keyFormat) || !self.keyFormat.contains('$TAG')",
         "keyFormat: $TAG is the agents' internal routing tag: use {namespace}, {pod}, "
         "{container} or {pipeline}", ".keyFormat")
    rule(spec, "self.type != 'livetail' || !has(self.sharedWith)",
         "sharedWith: a livetail output is not shared (give each tenant its own)",
         ".sharedWith")
    rule(at(spec, "s3.provision"),
         "!has(self.kmsKeyId) || (has(self.encryption) && self.encryption == 'aws:kms')",
         "kmsKeyId: needs encryption: aws:kms", ".kmsKeyId")
    for t in ("opensearch", "elasticsearch"):
        rule(at(spec, t), "!(has(self.index) && has(self.logstashPrefix))",
             "set index or logstashPrefix, not both")
    rule(at(spec, "opensearch"), "!(has(self.awsAuth) && self.awsAuth && has(self.auth))",
         "set awsAuth or auth, not both")
    rule(at(spec, "http.headers[]"), "has(self.value) != has(self.valueFrom)",
         "set exactly one of value or valueFrom")
    return spec


def output_status():
    return obj("Observed state.", {
        "observedGeneration": {"type": "integer", "format": "int64",
                               "description": "Generation last processed."},
        "conditions": conditions(),
        "target": obj("The destination as found or provisioned.", {
            "type": string("Output type.", max_len=32),
            "name": string("Stream, bucket, log group or host.", max_len=1024),
            "arn": string("ARN of the AWS resource.", max_len=2048),
            "region": string("AWS region.", max_len=32),
            "state": string("State reported by the service (ACTIVE, CREATING, ...).",
                            max_len=64),
            "provisioned": boolean("The operator created it."),
        }),
        "pipelines": arr("The valid LogPipelines that route to this output (namespace/name "
                         "when in another namespace), sorted; the first 16 of pipelineCount.",
                         string("LogPipeline.", max_len=507), maxItems=16),
        "pipelineCount": {"type": "integer", "format": "int64", "minimum": 0,
                          "description": "How many valid LogPipelines route to this output."},
        "problems": problems_status(),
        "problemCount": problem_count_status(),
    })


def problems_status():
    return arr("Every problem of the object (the first 16 of problemCount): what Valid "
               "summarizes, each also sent as a Warning Event.", obj("A problem.", {
                   "field": string("Field path.", max_len=1024),
                   "message": string("What is wrong.", max_len=4096),
               }), maxItems=16)


def problem_count_status():
    return {"type": "integer", "format": "int64", "minimum": 0,
            "description": "How many problems the object has (problems lists the first 16)."}


# ---------- LogPipeline ----------

def include_exclude(desc, item_desc):
    return obj(desc, {
        "include": arr("Only these (empty: all).", dns_label(item_desc), minItems=1,
                       maxItems=256),
        "exclude": arr("All but these.", dns_label(item_desc), minItems=1, maxItems=256),
    })


def grep_rules(desc):
    return arr(desc, obj("A rule.", {"key": field("Record key (a.b for nested)."),
                                     "regex": regex("Regular expression.")},
                         ["key", "regex"]), minItems=1, maxItems=32)


def transform():
    return obj("One operation: set exactly one of the fields (overwrite only with addFields).", {
        "flatten": obj("Flatten nested maps to one level.", {
            "separator": string("Joins key parts (default \".\").", TEXT_RE, 8, 1)}),
        "dropFields": arr("Remove these keys.", field("Key."), minItems=1, maxItems=64),
        "keepFields": arr("Keep only these keys.", field("Key."), minItems=1, maxItems=64),
        "renameFields": arr("Rename keys.", obj("A rename.", {"from": field("Old key."),
                                                            "to": field("New key.")},
                                               ["from", "to"]), minItems=1, maxItems=64),
        "addFields": arr("Add keys.", obj("A key and value.", {"key": field("Key."),
                                                              "value": text("Value.")},
                                         ["key", "value"]), minItems=1, maxItems=64),
        "overwrite": boolean("addFields: replace existing keys (default false)."),
        "grep": obj("Keep or drop records by regex.", {
            "include": grep_rules("Keep records matching all of these."),
            "exclude": grep_rules("Drop records matching any of these."),
        }),
        "throttle": obj("Rate limit.", {
            "rate": integer("Records per interval.", 1, 1000000),
            "window": integer("Intervals averaged (default 5).", 1, 1000),
            "interval": duration("Interval (default 1s)."),
            "perPod": boolean("Limit each pod separately instead of the whole pipeline."),
        }, ["rate"]),
        "detectLevel": obj("Detect the log level from the message.", {
            "sourceKey": field("Key to read (default log)."),
            "targetKey": field("Key to write (default level)."),
        }),
    }, minProperties=1, maxProperties=2)


def pipeline_spec():
    return obj("What logs, how to shape them, where to send them.", {
        "input": obj("Sources (default: application logs).", {
            "application": obj("Container logs.", {
                "enabled": boolean("Read container logs (default true)."),
                "namespaces": include_exclude("Namespaces (tenants: only their own).",
                                              "Namespace."),
                "podLabels": {"type": "object", "description": "Pod labels that must match.",
                              "maxProperties": 32,
                              "additionalProperties": string("Label value.",
                                                             r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$",
                                                             63)},
                "containers": include_exclude("Containers by name.", "Container name."),
            }),
            "system": obj("Node and kube-system logs (control namespace only).", {
                "enabled": boolean("Read system logs (default true when given).")}),
            "files": arr("Host files outside the container log directory (control namespace "
                         "only).", obj("A file source.", {
                             "name": dns_label("Name used in the tag."),
                             "path": string("Absolute path or glob.",
                                            r"^/[A-Za-z0-9_./*?\[\]-]+$", 1024),
                             "metadataRegex": regex("Regex on the file path with named groups "
                                                    "namespace_name, pod_name, container_name."),
                         }, ["name", "path"]), maxItems=16),
            "http": obj("HTTP endpoint for clients outside the cluster (control namespace only).", {
                "enabled": boolean("Open the endpoint (default true when given)."),
                "port": integer("Port (default 9880).", 1024, 65535),
            }),
        }),
        "kubernetes": obj("Kubernetes metadata.", {
            "enabled": boolean("Add pod metadata (default true)."),
            "labels": boolean("Include pod labels (default true)."),
            "annotations": boolean("Include pod annotations (default false)."),
        }),
        "multiline": obj("Join multi-line records.", {
            "parsers": arr("Built-in parsers.", string("Parser.",
                                                       enum=["java", "python", "go", "cri",
                                                             "docker"]), maxItems=5),
            "rules": arr("Custom rules; one must have state start_state.", obj("A rule.", {
                "state": string("State name.", r"^[A-Za-z0-9_-]+$", 64, 1),
                "regex": regex("Regex for lines in this state."),
                "nextState": string("State after a match.", r"^[A-Za-z0-9_-]+$", 64, 1),
            }, ["state", "regex", "nextState"]), maxItems=32),
            "flushTimeoutMs": integer("Flush a pending record after this long (default 1000).",
                                      100, 60000),
        }),
        "parse": obj("Parse the log line into fields.", {
            "format": string("json, logfmt or regex.", enum=["json", "logfmt", "regex"]),
            "key": field("Key to parse (default log)."),
            "regex": regex("format regex: named groups become fields."),
            "timeKey": field("Field holding the record time."),
            "timeFormat": text("strptime format of timeKey.", 128),
            "keepOriginal": boolean("Keep the original key (default false)."),
        }, ["format"]),
        "transforms": arr("Ordered operations.", transform(), maxItems=64),
        "routes": arr("Outputs by reference, each with an optional match.", obj("A route.", {
            "outputRef": dns_label("LogOutput name, in the pipeline's namespace unless "
                                   "outputNamespace names the control namespace."),
            "outputNamespace": dns_label("Namespace of the LogOutput: the pipeline's own "
                                         "(default), or the control namespace for an output "
                                         "it shares with this namespace "
                                         "(spec.sharedWith)."),
            "match": obj("Only records whose field matches (in or regex).", {
                "field": field("Record key."),
                "in": arr("Values.", text("Value.", 256), minItems=1, maxItems=64),
                "regex": regex("Regex."),
            }, ["field"], minProperties=2, maxProperties=2),
        }, ["outputRef"]), minItems=1, maxItems=32),
        "aggregator": obj("Ship through the aggregator tier.", {
            "enabled": boolean("Use the aggregator (default true when given)."),
            "engine": string("fluentbit (default) or fluentd.", enum=["fluentbit", "fluentd"]),
            "replicas": integer("Aggregator replicas (default 2).", 1, 20),
            "storageSize": size("Buffer volume per replica (default 10Gi)."),
        }),
        "metrics": arr("Numbers from the pipeline's records, served by the agents' Prometheus "
                       "endpoint (port 2021) as logplane_<type>_<name> (docs/metrics.md). "
                       "Not with spec.aggregator.", obj("A counter or histogram.", {
            "name": string("Metric name part: [a-z_][a-z0-9_]*, unique in the pipeline.",
                           "^[a-z_][a-z0-9_]*$", 64, 1),
            "type": string("counter or histogram.", enum=["counter", "histogram"]),
            "description": text("Help text of the metric.", 256),
            "labels": arr("Labels, each one series dimension: level, namespace, workload "
                          "(pod label app.kubernetes.io/name), pod, or field:<top-level key>.",
                          string("A label.", "^(level|namespace|workload|pod|field:[a-z_][a-z0-9_]*)$",
                                 70, 1), maxItems=4, **{"x-kubernetes-list-type": "set"}),
            "field": field("Histogram: the numeric top-level record key observed."),
            "buckets": arr("Histogram: strictly increasing upper bounds (default Fluent Bit's).",
                           {"type": "number"}, minItems=1, maxItems=16),
        }, ["name", "type"]), maxItems=8),
    }, ["routes"])


TRANSFORM_OPS = ["flatten", "dropFields", "keepFields", "renameFields", "addFields", "grep",
                 "throttle", "detectLevel"]


def pipeline_rules(spec):
    """CEL rules of LogPipeline.spec (the parser's single-object rules in pkg/api/pipeline.c)."""
    for part in ("input.application.namespaces", "input.application.containers"):
        rule(at(spec, part), "!has(self.include) || !has(self.exclude) || "
             "!self.exclude.exists(e, e in self.include)",
             "exclude: a name is also in include", ".exclude")
    rule(at(spec, "input.application.namespaces"),
         "!has(self.include) || !self.include.exists(n, n == 'kube-system')",
         "include: the application input never reads kube-system (its container logs are "
         "spec.input.system's, in a pipeline of the control namespace)", ".include")
    ml = at(spec, "multiline")
    rule(ml, "(has(self.parsers) && size(self.parsers) > 0) || "
         "(has(self.rules) && size(self.rules) > 0)", "set parsers or rules")
    rule(ml, "!has(self.rules) || size(self.rules) == 0 || "
         "self.rules.exists(r, r.state == 'start_state')",
         "rules: must include a rule with state \"start_state\"", ".rules")
    rule(ml, "!has(self.rules) || self.rules.all(r, self.rules.exists(q, q.state == r.nextState))",
         "rules: every nextState must be the state of some rule", ".rules")
    ps = at(spec, "parse")
    rule(ps, "self.format != 'regex' || has(self.regex)", "regex: required with format: regex",
         ".regex")
    rule(ps, "!has(self.regex) || self.format == 'regex'", "regex: only used with format: regex",
         ".regex")
    rule(ps, "!has(self.timeFormat) || has(self.timeKey)", "timeFormat: needs timeKey",
         ".timeFormat")
    rule(ps, "!has(self.timeFormat) || self.timeFormat.contains('%')",
         "timeFormat: must be a strptime format such as \"%Y-%m-%dT%H:%M:%S\"", ".timeFormat")
    tr = at(spec, "transforms[]")
    rule(tr, " + ".join("(has(self.%s) ? 1 : 0)" % op for op in TRANSFORM_OPS) + " == 1",
         "must set exactly one of " + ", ".join(TRANSFORM_OPS))
    rule(tr, "!has(self.overwrite) || has(self.addFields)", "overwrite: only used with addFields",
         ".overwrite")
    rule(at(spec, "transforms[].grep"), "has(self.include) || has(self.exclude)",
         "set include or exclude")
    rule(at(spec, "routes[].match"), "has(self.__in__) != has(self.regex)",
         "set exactly one of in or regex")
    return spec


def pipeline_status():
    return obj("Observed state.", {
        "observedGeneration": {"type": "integer", "format": "int64",
                               "description": "Generation last processed."},
        "conditions": conditions(),
        "configHash": string("Hash of the agents' configuration (the pod template's "
                             "logplane.io/config-hash) that first carried this version of the "
                             "pipeline, once applied; a later configuration that changes only "
                             "other resources keeps it.", max_len=128),
        "outputs": arr("Each LogOutput the pipeline routes to, and whether records reach it.",
                       obj("A routed LogOutput.", {
                           "name": string("LogOutput name (namespace/name for an output the "
                                          "control namespace shares).", max_len=253),
                           "delivered": string("True: in the configuration the agents run, "
                                               "and the LogOutput reports no problem. False "
                                               "or Unknown: reason and message say why not.",
                                               enum=["True", "False", "Unknown"]),
                           "reason": string("CamelCase reason.", max_len=128),
                           "message": string("Why, naming the LogOutput's own condition.",
                                             max_len=2048),
                       }, ["name", "delivered"]), maxItems=32),
        "problems": problems_status(),
        "problemCount": problem_count_status(),
    })


def documents():
    out = crd("logoutputs", "LogOutput", "lo", output_rules(output_spec()), output_status(),
              [{"name": "Type", "type": "string", "jsonPath": ".spec.type"}] + READY_COLUMNS[:2]
              + [{"name": "Pipelines", "type": "integer", "jsonPath": ".status.pipelineCount"}]
              + READY_COLUMNS[2:])
    pipe = crd("logpipelines", "LogPipeline", "lp", pipeline_rules(pipeline_spec()),
               pipeline_status(),
               READY_COLUMNS)
    return {"crds/logpipelines.yaml": pipe, "crds/logoutputs.yaml": out}


# ---------- docs/resources.md field tables ----------

DEFAULT_RE = re.compile(r"\s*\(default ([^)]*)\)|\s*\(default: ([^)]*)\)")


def type_of(s):
    t = s.get("type", "")
    if t == "array":
        return "[]" + type_of(s.get("items", {}))
    if t == "object" and "properties" not in s and isinstance(s.get("additionalProperties"), dict):
        return "map[string]" + type_of(s["additionalProperties"])
    return t


def constraints(s):
    c = []
    if s.get("type") == "array" and "enum" in s.get("items", {}):
        c.append("each " + " \\| ".join("`%s`" % v for v in s["items"]["enum"]))
    if "enum" in s:
        c.append(" \| ".join("`%s`" % v for v in s["enum"]))
    if "minimum" in s or "maximum" in s:
        c.append("%s..%s" % (s.get("minimum", ""), s.get("maximum", "")))
    if "maxLength" in s and "pattern" in s:
        c.append("pattern, max %d" % s["maxLength"])
    elif "maxLength" in s:
        c.append("max %d" % s["maxLength"])
    if "minItems" in s or "maxItems" in s:
        c.append("%s..%s items" % (s.get("minItems", 0), s.get("maxItems", "")))
    if "maxProperties" in s and s.get("type") == "object" and "properties" not in s:
        c.append("max %d entries" % s["maxProperties"])
    return "; ".join(c)


def table(spec):
    rows = ["| Field | Type | Default | Constraints | Meaning |",
            "|---|---|---|---|---|"]

    def visit(s, path, required):
        desc = s.get("description", "")
        m = DEFAULT_RE.search(desc)
        default = (m.group(1) or m.group(2)) if m else ""
        desc = DEFAULT_RE.sub("", desc)
        if required:
            desc = "**Required.** " + desc
        rows.append("| `%s` | %s | %s | %s | %s |" % (
            path, type_of(s), ("`%s`" % default) if default else "", constraints(s),
            desc.replace("|", "\\|")))
        req = s.get("required", [])
        for k, v in (s.get("properties") or {}).items():
            visit(v, path + "." + k, k in req)
        if s.get("type") == "array" and (s.get("items") or {}).get("properties"):
            it = s["items"]
            for k, v in it["properties"].items():
                visit(v, path + "[]." + k, k in it.get("required", []))
    for k, v in spec["properties"].items():
        visit(v, "spec." + k, k in spec.get("required", []))
    return "\n".join(rows) + "\n"


def docs_text(current):
    docs = documents()
    for kind, rel in (("LogPipeline", "crds/logpipelines.yaml"), ("LogOutput", "crds/logoutputs.yaml")):
        spec = docs[rel]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        start = "<!-- fields:%s -->\n" % kind
        end = "<!-- end:%s -->" % kind
        a = current.index(start) + len(start)
        b = current.index(end)
        current = current[:a] + table(spec) + current[b:]
    return current


HEADER = ("# Generated by hack/gen-crds.py; edit that file and run it again.\n"
          "# No schema defaults on purpose: defaults live in the operator.\n")


def render(doc):
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=100, default_flow_style=False)


def main():
    check = "--check" in sys.argv[1:]
    bad = 0
    docs_path = os.path.join(TOP, "docs/resources.md")
    with open(docs_path) as f:
        current = f.read()
    new = docs_text(current)
    if check and new != current:
        print("docs/resources.md field tables are out of date: run hack/gen-crds.py")
        bad = 1
    elif not check:
        with open(docs_path, "w") as f:
            f.write(new)
    for rel, doc in documents().items():
        path = os.path.join(TOP, rel)
        if check:
            try:
                with open(path) as f:
                    same = yaml.safe_load(f) == doc
            except OSError:
                same = False
            if not same:
                print("%s is out of date: run hack/gen-crds.py" % rel)
                bad = 1
        else:
            with open(path, "w") as f:
                f.write(render(doc))
    return bad


if __name__ == "__main__":
    sys.exit(main())
