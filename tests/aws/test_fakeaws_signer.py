#!/usr/bin/env python3
"""The fakes' SigV4 verifier (tests/aws/fakeaws.py) must itself be right, or the
end-to-end signature checks prove nothing: check it against published vectors
(aws-sig-v4-test-suite and the S3 API reference examples), and check that it
rejects tampered requests."""
import email.message
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakeaws  # noqa: E402

fakeaws.KEYS["AKIDEXAMPLE"] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
fakeaws.KEYS["AKIAIOSFODNN7EXAMPLE"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

SUITE = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
S3 = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
E3 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
STD = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]

CASES = [
    ("get-vanilla-query-order-key", "GET", "/?Param1=value2&Param1=Value1", STD, b"", "service",
     SUITE + "SignedHeaders=host;x-amz-date, Signature="
     "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
    ("get-vanilla-utf8-query", "GET", "/?%E1%88%B4=bar", STD, b"", "service",
     SUITE + "SignedHeaders=host;x-amz-date, Signature="
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    ("get-slashes", "GET", "//example//", STD, b"", "service",
     SUITE + "SignedHeaders=host;x-amz-date, Signature="
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
    ("get-header-key-duplicate", "GET", "/",
     [("Host", "example.amazonaws.com"), ("My-Header1", "value2"), ("My-Header1", "value2"),
      ("My-Header1", "value1"), ("X-Amz-Date", "20150830T123600Z")], b"", "service",
     SUITE + "SignedHeaders=host;my-header1;x-amz-date, Signature="
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    ("get-header-value-trim", "GET", "/",
     [("Host", "example.amazonaws.com"), ("My-Header1", " value1"),
      ("My-Header2", ' "a   b   c"'), ("X-Amz-Date", "20150830T123600Z")], b"", "service",
     SUITE + "SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature="
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("post-x-www-form-urlencoded", "POST", "/",
     [("Content-Type", "application/x-www-form-urlencoded")] + STD, b"Param1=value1", "service",
     SUITE + "SignedHeaders=content-type;host;x-amz-date, Signature="
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    ("s3-get-object-range", "GET", "/test.txt",
     [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
      ("x-amz-content-sha256", E3), ("x-amz-date", "20130524T000000Z")], b"", "s3",
     S3 + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature="
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ("s3-put-object", "PUT", "/test%24file.text",
     [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("Host", "examplebucket.s3.amazonaws.com"),
      ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
      ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")],
     b"Welcome to Amazon S3.", "s3",
     S3 + "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
     "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
    ("s3-get-bucket-lifecycle", "GET", "/?lifecycle",
     [("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
      ("x-amz-content-sha256", E3)], b"", "s3",
     S3 + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
]


def headers(pairs, auth):
    m = email.message.Message()
    for k, v in pairs:
        m[k] = v
    m["Authorization"] = auth
    return m


def main():
    failed = 0
    for name, method, path, hdrs, body, svc, auth in CASES:
        ok, _, why = fakeaws.verify_sigv4(method, path, headers(hdrs, auth), body, svc)
        if ok:
            print("PASS fakeaws_signer:%s" % name)
        else:
            failed += 1
            print("FAIL fakeaws_signer:%s: rejected: %s" % (name, why.split("\n")[0]))
        # the same request altered must be rejected
        bad = [(k, v + "x" if k.lower() == "host" else v) for k, v in hdrs]
        ok, _, _ = fakeaws.verify_sigv4(method, path, headers(bad, auth), body, svc)
        if ok:
            failed += 1
            print("FAIL fakeaws_signer:%s-tampered: accepted a changed Host" % name)
        else:
            print("PASS fakeaws_signer:%s-tampered" % name)
    # S3 body must match x-amz-content-sha256
    name, method, path, hdrs, body, svc, auth = CASES[7]
    ok, _, why = fakeaws.verify_sigv4(method, path, headers(hdrs, auth), b"other body", svc)
    if ok or "x-amz-content-sha256" not in why:
        failed += 1
        print("FAIL fakeaws_signer:s3-body-mismatch: accepted")
    else:
        print("PASS fakeaws_signer:s3-body-mismatch")
    # unknown key and temporary credentials without their token
    ok, _, why = fakeaws.verify_sigv4("GET", "/", headers(STD, SUITE.replace("AKIDEXAMPLE", "AKIDNOPE")
                                                          + "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64),
                                      b"", "service")
    print(("PASS" if not ok and "unknown access key" in why else "FAIL") + " fakeaws_signer:unknown-key"
          + ("" if not ok and "unknown access key" in why else ": accepted"))
    failed += 0 if (not ok and "unknown access key" in why) else 1
    akid, _, _, _ = fakeaws.issue(60)
    ok, _, why = fakeaws.verify_sigv4("GET", "/", headers(STD, SUITE.replace("AKIDEXAMPLE", akid)
                                                          + "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64),
                                      b"", "service")
    good = not ok and "session token" in why
    print(("PASS" if good else "FAIL") + " fakeaws_signer:temporary-key-needs-token" + ("" if good else ": " + why))
    failed += 0 if good else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
