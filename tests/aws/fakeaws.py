#!/usr/bin/env python3
"""Test fakes for the AWS services that have no emulator here: STS (query
protocol), Firehose and CloudWatch Logs (JSON protocol), an S3 subset for the
bucket settings s3rver does not implement (lifecycle, encryption, tagging,
public access block), the EC2 instance metadata service (IMDSv2) and the EKS
Pod Identity agent.

Every signed request is checked by an independent SigV4 implementation below
against the known test secrets (and the temporary credentials this STS issued);
a wrong signature is answered 403 SignatureDoesNotMatch. Standard library only.

Each fake listens on its own 127.0.0.1 port (port 0: chosen by the kernel); the
ports are written as JSON to --ports-file. Control endpoints on every fake:
GET /__stats (calls, operations, session tokens seen, signature failures),
POST /__config (JSON merged into the fake's settings: "deny" operations,
"throttle"/"slowdown" the next N calls, STS "duration"/"external_id"/"web_token",
S3 "taken" bucket names, Pod Identity "auth_token"), POST /__reset.
The process exits by itself after --lifetime seconds.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
# Long-term keys the fakes accept (test values, not real credentials).
KEYS = {"AKIDLOGPLANETEST": "logplane/test+secret/K7MDENGbPxRfiCYEXAMPLEKEY"}
ISSUED = {}  # temporary access key id -> (secret, token)
LOCK = threading.Lock()
COUNTER = [0]


def uri_encode(s, keep_slash):
    safe = "-._~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def normalize_path(path):
    trailing = path.endswith("/")
    out = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    p = "/" + "/".join(out)
    if out and trailing:
        p += "/"
    return p


def canonical_query(q):
    pairs = []
    for part in q.split("&") if q else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((uri_encode(urllib.parse.unquote(k), False),
                      uri_encode(urllib.parse.unquote(v), False)))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify_sigv4(method, raw_path, headers, body, service):
    """Returns (ok, access_key_id, reason)."""
    auth = headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                 r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$", auth)
    if not m:
        return False, None, "missing or malformed Authorization"
    akid, date8, region, svc, signed, sig = m.groups()
    if svc != service:
        return False, akid, "credential scope service %s, want %s" % (svc, service)
    with LOCK:
        if akid in KEYS:
            secret, token = KEYS[akid], None
        elif akid in ISSUED:
            secret, token = ISSUED[akid]
        else:
            return False, akid, "unknown access key id"
    if token is not None:
        if headers.get("X-Amz-Security-Token") != token:
            return False, akid, "temporary credentials without their session token"
        if "x-amz-security-token" not in signed.split(";"):
            return False, akid, "session token not signed"
    amz_date = headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date8):
        return False, akid, "X-Amz-Date does not match the credential scope"
    path, _, query = raw_path.partition("?")
    if service == "s3":
        curi = uri_encode(urllib.parse.unquote(path), True)
        payload = headers.get("x-amz-content-sha256", "")
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            return False, akid, "x-amz-content-sha256 does not match the body"
    else:
        curi = uri_encode(normalize_path(path), True)
        payload = hashlib.sha256(body).hexdigest()
    lines = []
    for name in signed.split(";"):
        vals = headers.get_all(name) or []
        if not vals:
            return False, akid, "signed header %s missing" % name
        lines.append("%s:%s" % (name, ",".join(" ".join(v.split()) for v in vals)))
    creq = "\n".join([method, curi, canonical_query(query), "\n".join(lines) + "\n",
                      signed, payload])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "%s/%s/%s/aws4_request" % (date8, region, svc),
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = hmac256(("AWS4" + secret).encode(), date8)
    k = hmac256(k, region)
    k = hmac256(k, svc)
    k = hmac256(k, "aws4_request")
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return False, akid, "signature mismatch; canonical request was:\n" + creq
    return True, akid, ""


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue(duration):
    with LOCK:
        COUNTER[0] += 1
        n = COUNTER[0]
        akid = "ASIAFAKE%08d" % n
        secret = "tmp-secret-%d-%s" % (n, os.urandom(6).hex())
        token = "FakeSessionToken/%d/%s" % (n, os.urandom(8).hex())
        ISSUED[akid] = (secret, token)
    return akid, secret, token, iso(time.time() + duration)


class Fake(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service = None  # signing name, None = unsigned service
    state = None

    def log_message(self, fmt, *args):
        if os.environ.get("FAKEAWS_VERBOSE"):
            sys.stderr.write("%s %s\n" % (self.service, fmt % args))

    def reply(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "fake-%d" % self.state["calls"])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def control(self, body):
        st = self.state
        if self.path == "/__stats":
            with LOCK:
                out = {k: st.get(k, []) for k in ("calls", "ops", "tokens", "sig_failures",
                                                  "failures", "web_tokens")}
            self.reply(200, json.dumps(out))
        elif self.path == "/__config":
            with LOCK:
                st["config"].update(json.loads(body or b"{}"))
            self.reply(200, "{}")
        elif self.path == "/__reset":
            with LOCK:
                st["calls"] = 0
                st["ops"] = []
                st["tokens"] = []
                st["sig_failures"] = 0
                st["failures"] = []
            self.reply(200, "{}")
        else:
            self.reply(404, "{}")

    def handle_any(self):
        body = self.read_body()
        if self.path.startswith("/__"):
            return self.control(body)
        st = self.state
        with LOCK:
            st["calls"] += 1
            tok = self.headers.get("X-Amz-Security-Token")
            if tok:
                st["tokens"].append(tok)
        if self.service and not self.unsigned_ok(body):
            ok, akid, why = verify_sigv4(self.command, self.path, self.headers, body, self.service)
            if not ok:
                with LOCK:
                    st["sig_failures"] += 1
                    st["failures"].append(why)
                return self.error(403, "SignatureDoesNotMatch",
                                  "The request signature we calculated does not match the "
                                  "signature you provided: " + why.split("\n")[0])
        self.dispatch(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    def unsigned_ok(self, body):
        return False

    def error(self, status, code, msg):
        self.reply(status, json.dumps({"__type": code, "message": msg}),
                   "application/x-amz-json-1.1")

    def op_denied(self, op):
        return op in self.state["config"].get("deny", [])


class JsonFake(Fake):
    prefix = None

    def dispatch(self, body):
        target = self.headers.get("X-Amz-Target", "")
        pre, _, op = target.partition(".")
        if pre != self.prefix or self.headers.get("Content-Type") != "application/x-amz-json-1.1":
            return self.error(400, "UnknownOperationException", "bad target or content type")
        with LOCK:
            self.state["ops"].append(op)
        with LOCK:
            throttle = self.state["config"].get("throttle", 0)
            if throttle:
                self.state["config"]["throttle"] = throttle - 1
        if throttle:
            return self.error(400, "ThrottlingException", "Rate exceeded")
        if self.op_denied(op):
            return self.error(400, "AccessDeniedException",
                              "User: arn:aws:sts::%s:assumed-role/logplane/op is not authorized "
                              "to perform: %s:%s" % (ACCOUNT, self.service, op))
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return self.error(400, "SerializationException", "invalid JSON")
        fn = getattr(self, "op_" + op, None)
        if not fn:
            return self.error(400, "UnknownOperationException", op)
        with LOCK:
            status, out = fn(req)
        if status >= 300:
            return self.error(status, out[0], out[1])
        self.reply(200, json.dumps(out), "application/x-amz-json-1.1")


class FirehoseFake(JsonFake):
    service = "firehose"
    prefix = "Firehose_20150804"

    def op_CreateDeliveryStream(self, r):
        streams = self.state["streams"]
        name = r.get("DeliveryStreamName")
        s3 = r.get("ExtendedS3DestinationConfiguration")
        if not name or not s3 or not s3.get("RoleARN") or not s3.get("BucketARN"):
            return 400, ("InvalidArgumentException", "missing name or S3 destination")
        if name in streams:
            return 400, ("ResourceInUseException", "Firehose %s already exists" % name)
        src = r.get("KinesisStreamSourceConfiguration")
        if r.get("DeliveryStreamType") == "KinesisStreamAsSource" and not src:
            return 400, ("InvalidArgumentException", "KinesisStreamSourceConfiguration missing")
        streams[name] = {"req": r, "version": 1, "describes": 0, "s3": dict(s3)}
        return 200, {"DeliveryStreamARN": "arn:aws:firehose:us-east-1:%s:deliverystream/%s"
                     % (ACCOUNT, name)}

    def op_DescribeDeliveryStream(self, r):
        s = self.state["streams"].get(r.get("DeliveryStreamName"))
        if not s:
            return 400, ("ResourceNotFoundException", "Firehose %s not found."
                         % r.get("DeliveryStreamName"))
        s["describes"] += 1
        name = r["DeliveryStreamName"]
        src = s["req"].get("KinesisStreamSourceConfiguration")
        d = {
            "DeliveryStreamName": name,
            "DeliveryStreamARN": "arn:aws:firehose:us-east-1:%s:deliverystream/%s" % (ACCOUNT, name),
            "DeliveryStreamStatus": "CREATING" if s["describes"] == 1 else "ACTIVE",
            "DeliveryStreamType": s["req"].get("DeliveryStreamType", "DirectPut"),
            "VersionId": str(s["version"]),
            "Destinations": [{"DestinationId": "destinationId-000000000001",
                              "ExtendedS3DestinationDescription": s["s3"]}],
            "HasMoreDestinations": False,
        }
        if src:
            d["Source"] = {"KinesisStreamSourceDescription": {"KinesisStreamARN": src["KinesisStreamARN"],
                                                              "RoleARN": src["RoleARN"]}}
        return 200, {"DeliveryStreamDescription": d}

    def op_UpdateDestination(self, r):
        s = self.state["streams"].get(r.get("DeliveryStreamName"))
        if not s:
            return 400, ("ResourceNotFoundException", "not found")
        if r.get("CurrentDeliveryStreamVersionId") != str(s["version"]):
            return 400, ("ConcurrentModificationException", "version mismatch")
        s["s3"].update(r.get("ExtendedS3DestinationUpdate") or {})
        s["version"] += 1
        return 200, {}

    def op_DeleteDeliveryStream(self, r):
        if self.state["streams"].pop(r.get("DeliveryStreamName"), None) is None:
            return 400, ("ResourceNotFoundException", "not found")
        return 200, {}


class LogsFake(JsonFake):
    service = "logs"
    prefix = "Logs_20140328"

    def op_CreateLogGroup(self, r):
        g = self.state["groups"]
        name = r.get("logGroupName")
        if not name:
            return 400, ("InvalidParameterException", "logGroupName missing")
        if name in g:
            return 400, ("ResourceAlreadyExistsException", "The specified log group already exists")
        g[name] = {"logGroupName": name, "arn": "arn:aws:logs:us-east-1:%s:log-group:%s:*"
                   % (ACCOUNT, name), "tags": r.get("tags", {})}
        return 200, {}

    def op_DescribeLogGroups(self, r):
        pre = r.get("logGroupNamePrefix", "")
        out = [{k: v for k, v in g.items() if k != "tags"}
               for n, g in sorted(self.state["groups"].items()) if n.startswith(pre)]
        return 200, {"logGroups": out}

    def op_PutRetentionPolicy(self, r):
        g = self.state["groups"].get(r.get("logGroupName"))
        if not g:
            return 400, ("ResourceNotFoundException", "The specified log group does not exist.")
        if r.get("retentionInDays") not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400,
                                            545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653):
            return 400, ("InvalidParameterException", "invalid retentionInDays")
        g["retentionInDays"] = r["retentionInDays"]
        return 200, {}

    def op_DeleteRetentionPolicy(self, r):
        g = self.state["groups"].get(r.get("logGroupName"))
        if not g:
            return 400, ("ResourceNotFoundException", "The specified log group does not exist.")
        g.pop("retentionInDays", None)
        return 200, {}

    def op_DeleteLogGroup(self, r):
        if self.state["groups"].pop(r.get("logGroupName"), None) is None:
            return 400, ("ResourceNotFoundException", "The specified log group does not exist.")
        return 200, {}


class StsFake(Fake):
    service = "sts"

    def form(self, body):
        return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))

    def unsigned_ok(self, body):
        return self.form(body).get("Action") == "AssumeRoleWithWebIdentity"

    def xml_error(self, status, code, msg):
        self.reply(status, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code>"
                   "<Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>"
                   % (code, msg), "text/xml")

    def creds_xml(self, action, duration):
        akid, secret, token, exp = issue(duration)
        return ("<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><%sResult>"
                "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>"
                "<SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>"
                "</%sResult></%sResponse>" % (action, action, akid, secret, token, exp, action, action))

    def dispatch(self, body):
        f = self.form(body)
        action = f.get("Action")
        cfg = self.state["config"]
        with LOCK:
            self.state["ops"].append(action)
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return self.xml_error(400, "InvalidAction", "form body expected")
        if f.get("Version") != "2011-06-15":
            return self.xml_error(400, "InvalidAction", "Version 2011-06-15 expected")
        duration = int(cfg.get("duration", 3600))
        if action == "AssumeRoleWithWebIdentity":
            tok = f.get("WebIdentityToken", "")
            with LOCK:
                self.state.setdefault("web_tokens", []).append(tok)
            if not tok or (cfg.get("web_token") and tok != cfg["web_token"]):
                return self.xml_error(400, "InvalidIdentityToken", "Token is not valid")
            if not f.get("RoleArn") or not f.get("RoleSessionName"):
                return self.xml_error(400, "ValidationError", "RoleArn and RoleSessionName required")
            return self.reply(200, self.creds_xml(action, duration), "text/xml")
        if action == "AssumeRole":
            if self.op_denied("AssumeRole") or (cfg.get("external_id") and
                                                f.get("ExternalId") != cfg["external_id"]):
                return self.xml_error(403, "AccessDenied",
                                      "User: arn:aws:iam::%s:user/x is not authorized to perform: "
                                      "sts:AssumeRole on resource: %s" % (ACCOUNT, f.get("RoleArn")))
            return self.reply(200, self.creds_xml(action, duration), "text/xml")
        if action == "GetCallerIdentity":
            return self.reply(200, "<GetCallerIdentityResponse><GetCallerIdentityResult>"
                              "<Arn>arn:aws:iam::%s:user/test</Arn><UserId>AIDFAKE</UserId>"
                              "<Account>%s</Account></GetCallerIdentityResult>"
                              "</GetCallerIdentityResponse>" % (ACCOUNT, ACCOUNT), "text/xml")
        return self.xml_error(400, "InvalidAction", "unknown action %s" % action)


class S3Fake(Fake):
    """Path-style S3 subset: bucket create/head/delete, list, object put, and
    the lifecycle, encryption, tagging and public access block sub-resources."""
    service = "s3"
    SUBS = ("lifecycle", "encryption", "tagging", "publicAccessBlock")

    def error(self, status, code, msg):
        self.reply(status, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                   "<Message>%s</Message></Error>" % (code, msg), "application/xml")

    def dispatch(self, body):
        path, _, query = self.path.partition("?")
        parts = urllib.parse.unquote(path).lstrip("/").split("/", 1)
        bucket = parts[0]
        key = parts[1] if len(parts) > 1 else ""
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        sub = next((s for s in self.SUBS if s in q), None)
        buckets = self.state["buckets"]
        op = "%s %s%s" % (self.command, "object" if key else "bucket", "?" + sub if sub else "")
        with LOCK:
            self.state["ops"].append(op)
        with LOCK:
            slow = self.state["config"].get("slowdown", 0)
            if slow:
                self.state["config"]["slowdown"] = slow - 1
        if slow:
            return self.error(503, "SlowDown", "Please reduce your request rate.")
        if self.op_denied(op):
            return self.error(403, "AccessDenied", "Access Denied")
        with LOCK:
            b = buckets.get(bucket)
            if self.command == "PUT" and not key and not sub:
                if b is not None:
                    return self.error(409, "BucketAlreadyOwnedByYou", "already yours")
                if bucket in self.state["config"].get("taken", []):
                    return self.error(409, "BucketAlreadyExists", "The requested bucket name is "
                                      "not available.")
                m = re.search(rb"<LocationConstraint>([^<]*)</LocationConstraint>", body)
                buckets[bucket] = {"region": m.group(1).decode() if m else "us-east-1",
                                   "objects": {}, "subs": {}}
                return self.reply(200, "", "application/xml")
            if b is None:
                return self.error(404, "NoSuchBucket", "The specified bucket does not exist")
            if key:
                if self.command == "PUT":
                    b["objects"][key] = body
                    return self.reply(200, "", "application/xml")
                if self.command == "DELETE":
                    b["objects"].pop(key, None)
                    return self.reply(204, "", "application/xml")
                return self.error(405, "MethodNotAllowed", "not supported here")
            if sub:
                if self.command == "PUT":
                    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
                    if self.headers.get("Content-MD5") != md5:
                        return self.error(400, "InvalidDigest", "Content-MD5 missing or wrong")
                    b["subs"][sub] = body.decode()
                    return self.reply(200, "", "application/xml")
                if self.command == "GET":
                    if sub not in b["subs"]:
                        codes = {"lifecycle": "NoSuchLifecycleConfiguration",
                                 "encryption": "ServerSideEncryptionConfigurationNotFoundError",
                                 "tagging": "NoSuchTagSet",
                                 "publicAccessBlock": "NoSuchPublicAccessBlockConfiguration"}
                        return self.error(404, codes[sub], "not configured")
                    return self.reply(200, b["subs"][sub], "application/xml")
                if self.command == "DELETE":
                    b["subs"].pop(sub, None)
                    return self.reply(204, "", "application/xml")
            if self.command == "HEAD":
                return self.reply(200, "", "application/xml", {"x-amz-bucket-region": b["region"]})
            if self.command == "GET":
                keys = sorted(b["objects"])[: int(q.get("max-keys", "1000"))]
                items = "".join("<Contents><Key>%s</Key></Contents>" % k for k in keys)
                return self.reply(200, "<ListBucketResult><KeyCount>%d</KeyCount>%s"
                                  "</ListBucketResult>" % (len(keys), items), "application/xml")
            if self.command == "DELETE":
                if b["objects"]:
                    return self.error(409, "BucketNotEmpty", "The bucket you tried to delete is "
                                      "not empty")
                del buckets[bucket]
                return self.reply(204, "", "application/xml")
        return self.error(405, "MethodNotAllowed", "not supported here")


class ImdsFake(Fake):
    """IMDSv2: PUT /latest/api/token first; every GET must carry the token."""
    service = None

    def dispatch(self, body):
        st = self.state
        with LOCK:
            st["ops"].append("%s %s" % (self.command, self.path))
        if self.command == "PUT" and self.path == "/latest/api/token":
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400, "missing TTL", "text/plain")
            st["token"] = "imds-token-" + os.urandom(6).hex()
            return self.reply(200, st["token"], "text/plain")
        if self.headers.get("X-aws-ec2-metadata-token") != st.get("token"):
            return self.reply(401, "", "text/plain")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self.reply(200, "logplane-node", "text/plain")
        if self.path == base + "logplane-node":
            akid, secret, token, exp = issue(int(st["config"].get("duration", 3600)))
            return self.reply(200, json.dumps({"Code": "Success", "AccessKeyId": akid,
                                               "SecretAccessKey": secret, "Token": token,
                                               "Expiration": exp}))
        return self.reply(404, "", "text/plain")


class PodIdentityFake(Fake):
    """EKS Pod Identity agent: GET with the projected token in Authorization."""
    service = None

    def dispatch(self, body):
        st = self.state
        with LOCK:
            st["ops"].append(self.path)
            st["tokens"].append(self.headers.get("Authorization", ""))
        want = st["config"].get("auth_token")
        if not want or self.headers.get("Authorization") != want:
            return self.reply(401, json.dumps({"message": "invalid token"}))
        akid, secret, token, exp = issue(int(st["config"].get("duration", 3600)))
        return self.reply(200, json.dumps({"AccessKeyId": akid, "SecretAccessKey": secret,
                                           "Token": token, "AccountId": ACCOUNT,
                                           "Expiration": exp}))


def new_state():
    return {"calls": 0, "ops": [], "tokens": [], "sig_failures": 0, "failures": [],
            "config": {}, "streams": {}, "groups": {}, "buckets": {}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    fakes = {"sts": StsFake, "firehose": FirehoseFake, "logs": LogsFake, "s3": S3Fake,
             "imds": ImdsFake, "podidentity": PodIdentityFake}
    ports = {}
    for name, cls in fakes.items():
        handler = type(cls.__name__ + "Bound", (cls,), {"state": new_state()})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        ports[name] = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = args.ports_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.rename(tmp, args.ports_file)
    time.sleep(args.lifetime)


if __name__ == "__main__":
    main()
