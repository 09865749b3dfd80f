#!/usr/bin/env python3
"""kubesim API semantics over raw HTTPS: discovery, OpenAPI, generation and
status, conflicts, patches, server-side apply, garbage collection, pagination,
selectors, Tables, protobuf, Leases, the fake workload controller."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import ks_proto  # noqa: E402
from ks_testlib import HERE, Kubesim, Report, wait_for  # noqa: E402

T = Report("kubesim_api")
NS = "/api/v1/namespaces/default"
CM = NS + "/configmaps"
WD = "/apis/kubesim.logplane.io/v1alpha1/namespaces/default/widgets"
AGG = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"


def cm(name, data=None, labels=None, owners=None):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    if owners:
        md["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {}}


def widget(name, **spec):
    spec.setdefault("color", "red")
    return {"apiVersion": "kubesim.logplane.io/v1alpha1", "kind": "Widget", "metadata": {"name": name},
            "spec": spec}


def deployment(name, replicas=1, annotations=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "img:1",
                                                           "env": [{"name": "A", "value": "1"}]},
                                                          {"name": "d", "image": "img:1"}]}}}}


def main():
    with Kubesim() as ks:
        rq = ks.request
        r = ks.kubectl("apply", "-f", os.path.join(HERE, "testdata", "crds"))
        T.check("setup_crd", r.returncode == 0, r.stderr)

        def t_discovery_aggregated():
            st, h, b = rq("GET", "/apis", accept=AGG)
            ct = h.get("Content-Type")
            groups = {i["metadata"]["name"]: i for i in b["items"]}
            wd = [x for v in groups.get("kubesim.logplane.io", {}).get("versions", []) for x in v["resources"]]
            st2, h2, b2 = rq("GET", "/api", accept=AGG)
            core = [x["resource"] for x in b2["items"][0]["versions"][0]["resources"]]
            st3, h3, _ = rq("GET", "/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                                                   "as=APIGroupDiscoveryList")
            return (ct == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" and
                    wd and wd[0]["resource"] == "widgets" and wd[0]["subresources"][0]["subresource"] == "status"
                    and "apps" in groups and "configmaps" in core and "v2beta1" in h3["Content-Type"]) or \
                "%s %s %s" % (ct, wd, core[:5])
        T.run("discovery_aggregated", t_discovery_aggregated)

        def t_discovery_legacy():
            _, _, api = rq("GET", "/api")
            _, _, apis = rq("GET", "/apis")
            _, _, v1 = rq("GET", "/api/v1")
            _, _, apps = rq("GET", "/apis/apps/v1")
            _, _, grp = rq("GET", "/apis/kubesim.logplane.io")
            names = [r["name"] for r in apps["resources"]]
            return (api["versions"] == ["v1"] and any(g["name"] == "kubesim.logplane.io" for g in apis["groups"])
                    and v1["kind"] == "APIResourceList" and "deployments/status" in names and
                    grp["preferredVersion"]["version"] == "v1alpha1") or "%s %s" % (api, names)
        T.run("discovery_legacy", t_discovery_legacy)

        def t_openapi():
            _, _, root = rq("GET", "/openapi/v3")
            p = root["paths"].get("apis/kubesim.logplane.io/v1alpha1")
            if not p:
                return "no path for the CRD group: %s" % list(root["paths"])[:5]
            _, _, doc = rq("GET", p["serverRelativeURL"])
            patch = doc["paths"]["/apis/kubesim.logplane.io/v1alpha1/namespaces/{namespace}/widgets/{name}"]["patch"]
            params = [x["name"] for x in patch["parameters"]]
            sch = doc["components"]["schemas"]["io.logplane.kubesim.v1alpha1.Widget"]
            st, _, _ = rq("GET", "/openapi/v2")
            return (patch["x-kubernetes-group-version-kind"]["kind"] == "Widget" and "fieldValidation" in params
                    and sch["x-kubernetes-group-version-kind"][0]["kind"] == "Widget" and
                    "color" in sch["properties"]["spec"]["properties"] and st == 404) or "%s %s" % (params, st)
        T.run("openapi_v3", t_openapi)

        def t_generation():
            st, _, w = rq("POST", WD, dict(widget("g1"), status={"observedGeneration": 9}))
            if st != 201 or w["metadata"]["generation"] != 1 or "status" in w:
                return "create: %d %s" % (st, w)
            _, _, w2 = rq("PATCH", WD + "/g1", {"metadata": {"labels": {"x": "y"}}},
                          ctype="application/merge-patch+json")
            _, _, w3 = rq("PATCH", WD + "/g1/status", {"status": {"observedGeneration": 1}},
                          ctype="application/merge-patch+json")
            _, _, w4 = rq("PATCH", WD + "/g1", {"spec": {"size": 5}}, ctype="application/merge-patch+json")
            gens = [w["metadata"]["generation"], w2["metadata"]["generation"], w3["metadata"]["generation"],
                    w4["metadata"]["generation"]]
            return (gens == [1, 1, 1, 2] and w3["status"] == {"observedGeneration": 1} and
                    w4["status"] == {"observedGeneration": 1}) or "%s %s" % (gens, w4)
        T.run("generation_and_status_subresource", t_generation)

        def t_conflicts():
            st, _, o = rq("POST", CM, cm("c1", {"a": "1"}))
            st2, _, dup = rq("POST", CM, cm("c1"))
            o2 = dict(o, data={"a": "2"})
            st3, _, _ = rq("PUT", CM + "/c1", o2)
            st4, _, stale = rq("PUT", CM + "/c1", dict(o, data={"a": "3"}))
            norv = json.loads(json.dumps(o))
            del norv["metadata"]["resourceVersion"]
            st5, _, _ = rq("PUT", CM + "/c1", norv)
            st6, _, jp = rq("PATCH", CM + "/c1", [{"op": "test", "path": "/metadata/resourceVersion",
                                                  "value": o["metadata"]["resourceVersion"]}],
                            ctype="application/json-patch+json")
            st7, _, nf = rq("GET", CM + "/nope")
            return ((st, st2, st3, st4, st5, st6, st7) == (201, 409, 200, 409, 200, 422, 404) and
                    dup["reason"] == "AlreadyExists" and dup["message"] == 'configmaps "c1" already exists' and
                    stale["reason"] == "Conflict" and "the object has been modified" in stale["message"] and
                    nf["message"] == 'configmaps "nope" not found') or \
                "%s %s %s" % ((st, st2, st3, st4, st5, st6, st7), dup, stale)
        T.run("conflicts_and_errors", t_conflicts)

        def t_json_patch_precondition():
            _, _, o = rq("GET", CM + "/c1")
            st, _, b = rq("PATCH", CM + "/c1", [{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"},
                                               {"op": "add", "path": "/data/z", "value": "1"}],
                          ctype="application/json-patch+json")
            st2, _, b2 = rq("PATCH", CM + "/c1", [{"op": "replace", "path": "/metadata/resourceVersion",
                                                  "value": o["metadata"]["resourceVersion"]},
                                                 {"op": "add", "path": "/data/z", "value": "1"}],
                            ctype="application/json-patch+json")
            return (st == 409 and st2 == 200 and b2["data"]["z"] == "1") or "%d %d %s" % (st, st2, b2)
        T.run("json_patch_rv_precondition", t_json_patch_precondition)

        def t_strategic():
            st, _, d = rq("POST", "/apis/apps/v1/namespaces/default/deployments", deployment("sm"))
            patch = {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "img:2", "env": [{"name": "B", "value": "2"}]},
                {"name": "d", "$patch": "delete"}]}}}}
            st2, _, d2 = rq("PATCH", "/apis/apps/v1/namespaces/default/deployments/sm", patch,
                            ctype="application/strategic-merge-patch+json")
            cs = d2["spec"]["template"]["spec"]["containers"]
            st3, _, _ = rq("PATCH", WD + "/g1", {"spec": {"size": 6}},
                           ctype="application/strategic-merge-patch+json")
            return (st2 == 200 and len(cs) == 1 and cs[0]["image"] == "img:2" and
                    [e["name"] for e in cs[0]["env"]] == ["A", "B"] and st3 == 415) or "%d %s %d" % (st2, cs, st3)
        T.run("strategic_merge_builtin_415_cr", t_strategic)

        def t_ssa():
            body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa1\ndata:\n  k: v\n"
            st, _, o = rq("PATCH", CM + "/ssa1?fieldManager=test", body.encode(),
                          ctype="application/apply-patch+yaml")
            st2, _, o2 = rq("PATCH", CM + "/ssa1?fieldManager=test", body.encode(),
                            ctype="application/apply-patch+yaml")
            st3, _, _ = rq("PATCH", CM + "/ssa2", body.replace("ssa1", "ssa2").encode(),
                           ctype="application/apply-patch+yaml")
            st4, _, _ = rq("PATCH", CM + "/ssa3?fieldManager=t&dryRun=All", body.replace("ssa1", "ssa3").encode(),
                           ctype="application/apply-patch+yaml")
            st5, _, _ = rq("GET", CM + "/ssa3")
            return ((st, st2, st3, st4, st5) == (201, 200, 400, 201, 404) and o["data"] == {"k": "v"} and
                    o2["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"] and
                    # the answer carries managedFields, as a real server's does
                    [(m["manager"], m["operation"], m["fieldsType"], m["fieldsV1"].get("f:data"))
                     for m in o["metadata"].get("managedFields") or []] == [("test", "Apply", "FieldsV1",
                                                                             {"f:k": {}})] and
                    o2["metadata"].get("managedFields") == o["metadata"]["managedFields"]) or \
                "%s %s" % ((st, st2, st3, st4, st5), o["metadata"].get("managedFields"))
        T.run("server_side_apply", t_ssa)

        def t_ssa_ownership():
            def apply(mgr, data, force=False, name="own"):
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
                q = "?fieldManager=%s%s" % (mgr, "&force=true" if force else "")
                return rq("PATCH", CM + "/" + name + q, json.dumps(body).encode(),
                          ctype="application/apply-patch+yaml")
            apply("alice", {"a": "1", "b": "2"})
            _, _, o = apply("alice", {"a": "1"})
            if o.get("data") != {"a": "1"}:
                return "field dropped by its only manager kept: %s" % o.get("data")
            apply("bob", {"c": "3"})
            _, _, o = apply("alice", {"a": "1"})
            if o.get("data") != {"a": "1", "c": "3"}:
                return "other manager's field lost: %s" % o.get("data")
            st, _, c = apply("bob", {"c": "3", "a": "9"})
            want = 'Apply failed with 1 conflict: conflict with "alice" using v1: .data.a'
            if st != 409 or c.get("message") != want or c["details"]["causes"][0]["field"] != ".data.a":
                return "conflict: %d %s" % (st, c)
            st, _, o = apply("bob", {"c": "3", "a": "9"}, force=True)
            st2, _, c2 = apply("alice", {"a": "1"})
            if st != 200 or o["data"]["a"] != "9" or st2 != 409 or '"bob"' not in c2.get("message", ""):
                return "force: %d %s / %d %s" % (st, o.get("data"), st2, c2)
            rq("PATCH", CM + "/own?fieldManager=editor", {"data": {"c": "30"}}, ctype="application/merge-patch+json")
            st3, _, c3 = apply("bob", {"c": "3", "a": "9"})
            if st3 != 409 or '"editor"' not in c3.get("message", ""):
                return "update manager conflict: %d %s" % (st3, c3)
            same = apply("alice", {"a": "9", "z": "1"})[2]
            # shared ownership: equal values do not conflict
            return same.get("data", {}).get("z") == "1" or same
        T.run("server_side_apply_ownership", t_ssa_ownership)

        def t_ssa_lists():
            dep = deployment("ssa-dep")
            dep["metadata"].pop("annotations")
            q = "?fieldManager=ci"
            rq("PATCH", "/apis/apps/v1/namespaces/default/deployments/ssa-dep" + q, json.dumps(dep).encode(),
               ctype="application/apply-patch+yaml")
            rq("PATCH", "/apis/apps/v1/namespaces/default/deployments/ssa-dep?fieldManager=other",
               {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "EXTRA",
                                                                                     "value": "x"}]}]}}}},
               ctype="application/strategic-merge-patch+json")
            dep["spec"]["template"]["spec"]["containers"] = [dep["spec"]["template"]["spec"]["containers"][0]]
            st, _, o = rq("PATCH", "/apis/apps/v1/namespaces/default/deployments/ssa-dep" + q,
                          json.dumps(dep).encode(), ctype="application/apply-patch+yaml")
            cs = o["spec"]["template"]["spec"]["containers"]
            return (st == 200 and [c["name"] for c in cs] == ["c"] and
                    [e["name"] for e in cs[0]["env"]] == ["A", "EXTRA"]) or "%d %s" % (st, cs)
        T.run("server_side_apply_keyed_lists", t_ssa_lists)

        def t_gc():
            _, _, w = rq("POST", WD, widget("owner"))
            ref = [{"apiVersion": "kubesim.logplane.io/v1alpha1", "kind": "Widget", "name": "owner",
                    "uid": w["metadata"]["uid"], "controller": True}]
            rq("POST", CM, cm("dep1", owners=ref))
            rq("POST", CM, cm("dep2", owners=ref))
            rq("DELETE", WD + "/owner", {"propagationPolicy": "Background"})
            gone = wait_for(lambda: rq("GET", CM + "/dep1")[0] == 404 and rq("GET", CM + "/dep2")[0] == 404, 5)
            _, _, w = rq("POST", WD, widget("owner2"))
            ref[0].update(name="owner2", uid=w["metadata"]["uid"])
            rq("POST", CM, cm("dep3", owners=ref))
            rq("DELETE", WD + "/owner2?propagationPolicy=Orphan")
            orphan = wait_for(lambda: rq("GET", WD + "/owner2")[0] == 404, 5)
            _, _, d3 = rq("GET", CM + "/dep3")
            return (gone and orphan and "ownerReferences" not in d3["metadata"]) or "%s %s %s" % (gone, orphan, d3)
        T.run("garbage_collection", t_gc)

        def t_foreground():
            _, _, w = rq("POST", WD, widget("fg"))
            ref = [{"apiVersion": "kubesim.logplane.io/v1alpha1", "kind": "Widget", "name": "fg",
                    "uid": w["metadata"]["uid"]}]
            rq("POST", CM, cm("fgdep", owners=ref))
            rq("PATCH", CM + "/fgdep", {"metadata": {"finalizers": ["test/hold"]}},
               ctype="application/merge-patch+json")
            st, _, o = rq("DELETE", WD + "/fg", {"propagationPolicy": "Foreground"})
            time.sleep(0.5)
            st2, _, still = rq("GET", WD + "/fg")
            rq("PATCH", CM + "/fgdep", {"metadata": {"finalizers": None}}, ctype="application/merge-patch+json")
            gone = wait_for(lambda: rq("GET", WD + "/fg")[0] == 404 and rq("GET", CM + "/fgdep")[0] == 404, 5)
            return (st == 200 and st2 == 200 and "foregroundDeletion" in still["metadata"].get("finalizers", [])
                    and gone) or "%d %d %s %s" % (st, st2, still.get("metadata"), gone)
        T.run("foreground_deletion", t_foreground)

        def t_pagination():
            for i in range(25):
                rq("POST", CM, cm("page-%02d" % i, labels={"page": "yes", "n": str(i % 3)}))
            names, cont, pages, remaining = [], "", 0, []
            while True:
                _, _, l = rq("GET", CM + "?labelSelector=page%%3Dyes&limit=10%s" % ("&continue=" + cont if cont
                                                                                     else ""))
                names += [i["metadata"]["name"] for i in l["items"]]
                pages += 1
                remaining.append(l["metadata"].get("remainingItemCount"))
                cont = l["metadata"].get("continue")
                if not cont:
                    break
            # later pages are consistent with the first page, whatever happens in between
            _, _, a = rq("GET", CM + "?labelSelector=page&limit=10")
            rq("DELETE", CM + "/page-15")
            rq("POST", CM, cm("page-99", labels={"page": "yes", "n": "0"}))
            rq("PATCH", CM + "/page-20", {"data": {"changed": "1"}}, ctype="application/merge-patch+json")
            _, _, b = rq("GET", CM + "?labelSelector=page&limit=10&continue=" + a["metadata"]["continue"])
            _, _, c = rq("GET", CM + "?labelSelector=page&limit=10&continue=" + b["metadata"]["continue"])
            snap = [i["metadata"]["name"] for i in a["items"] + b["items"] + c["items"]]
            p20 = [i for i in b["items"] + c["items"] if i["metadata"]["name"] == "page-20"]
            if snap != ["page-%02d" % i for i in range(25)] or p20[0].get("data") or \
                    b["metadata"]["resourceVersion"] != a["metadata"]["resourceVersion"]:
                return "inconsistent pages: %s %s" % (snap, p20)
            ks.admin("POST", "/admin/faults", {"expire_history": True})
            st, _, e = rq("GET", CM + "?labelSelector=page&limit=10&continue=" + a["metadata"]["continue"])
            if st != 410 or e["reason"] != "Expired":
                return "expired continue: %d %s" % (st, e)
            _, _, full = rq("GET", CM)
            _, _, p1 = rq("GET", CM + "?limit=10")
            rem = p1["metadata"].get("remainingItemCount")
            # remainingItemCount is only given without selectors, as on a real server
            return (names == ["page-%02d" % i for i in range(25)] and pages == 3 and
                    remaining == [None, None, None] and rem == len(full["items"]) - 10) or \
                "%d pages %s %s %s" % (pages, remaining, rem, names)
        T.run("pagination", t_pagination)

        def t_selectors():
            def names(q):
                _, _, l = rq("GET", CM + "?" + q)
                return sorted(i["metadata"]["name"] for i in l["items"])
            a = names("labelSelector=n+in+(0,1),page")
            b = names("labelSelector=page,n+notin+(0,1)")
            c = names("labelSelector=!page&fieldSelector=metadata.name%3Dc1")
            d = names("labelSelector=n!%3D0,page%3Dyes")
            _, _, all_ns = rq("GET", "/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddefault,"
                                     "metadata.name%3Dc1")
            st, _, bad = rq("GET", CM + "?labelSelector=a%20in%20(b")
            return (len(a) == 17 and len(b) == 8 and c == ["c1"] and len(d) == 16 and
                    len(all_ns["items"]) == 1 and st == 400) or "%d %d %s %d %d" % (len(a), len(b), c, len(d), st)
        T.run("label_and_field_selectors", t_selectors)

        def t_table():
            st, h, t = rq("GET", WD, accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
            cols = [c["name"] for c in t["columnDefinitions"]]
            row = t["rows"][0]
            return (h["Content-Type"] == "application/json;as=Table;v=v1;g=meta.k8s.io" and
                    cols == ["Name", "Size", "Ready", "Reason", "Age"] and
                    re.match(r"^\d+s$", row["cells"][-1]) is not None and
                    row["object"]["kind"] == "PartialObjectMetadata") or "%s %s %s" % (h.get("Content-Type"), cols,
                                                                                      row)
        T.run("table", t_table)

        def t_protobuf():
            body = ks_proto.encode_configmap("pb1", "default", {"x": "y"}, {"l": "v"})
            st, _, o = rq("POST", CM, body, ctype="application/vnd.kubernetes.protobuf")
            bad = ks_proto.MAGIC + b"\x0a\x0a\x0a\x02v1\x12\x04Node"
            st2, _, e = rq("POST", CM, bad, ctype="application/vnd.kubernetes.protobuf")
            return (st == 201 and o["data"] == {"x": "y"} and o["metadata"]["labels"] == {"l": "v"} and
                    st2 == 415) or "%d %s %d %s" % (st, o, st2, e)
        T.run("protobuf_bodies", t_protobuf)

        def t_lease():
            L = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "leader"},
                     "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                              "renewTime": "2026-01-01T00:00:00.000000Z"}}
            st, _, l1 = rq("POST", L, lease)
            l1["spec"]["holderIdentity"] = "b"
            st2, _, l2 = rq("PUT", L + "/leader", l1)
            st3, _, _ = rq("PUT", L + "/leader", l1)
            return (st, st2, st3) == (201, 200, 409) or (st, st2, st3)
        T.run("lease_optimistic_concurrency", t_lease)

        def t_workloads():
            D = "/apis/apps/v1/namespaces/default/deployments"
            rq("POST", D, deployment("web", 2))
            ok = wait_for(lambda: rq("GET", D + "/web")[2].get("status", {}).get("readyReplicas") == 2, 5)
            _, _, rs = rq("GET", "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dweb")
            items = rs["items"]
            good = (ok and len(items) == 1 and "pod-template-hash" in items[0]["metadata"]["labels"] and
                    items[0]["metadata"]["ownerReferences"][0]["controller"] is True)
            rq("POST", D, deployment("held", 1, {"kubesim.logplane.io/hold-unready": "true"}))
            time.sleep(0.6)
            _, _, held = rq("GET", D + "/held")
            hs = held.get("status", {})
            S = "/apis/apps/v1/namespaces/default/daemonsets"
            ds = deployment("shipper")
            ds["kind"] = "DaemonSet"
            del ds["spec"]["replicas"]
            rq("POST", S, ds)
            dok = wait_for(lambda: rq("GET", S + "/shipper")[2].get("status", {}).get("numberReady") == 1, 5)
            _, _, dso = rq("GET", S + "/shipper")
            rq("DELETE", D + "/web")
            rsgone = wait_for(lambda: not rq("GET", "/apis/apps/v1/namespaces/default/replicasets?"
                                                     "labelSelector=app%3Dweb")[2]["items"], 5)
            return (good and hs.get("observedGeneration") == 1 and not hs.get("readyReplicas") and dok and
                    dso["status"]["observedGeneration"] == 1 and rsgone) or "%s %s %s %s" % (good, hs, dok, rsgone)
        T.run("workload_controller", t_workloads)

        def t_deletecollection():
            st, _, _ = rq("DELETE", CM + "?labelSelector=n%3D0")
            _, _, l = rq("GET", CM + "?labelSelector=page")
            return (st == 200 and len(l["items"]) == 16) or "%d %d" % (st, len(l["items"]))
        T.run("deletecollection", t_deletecollection)

        def t_dry_run_create():
            st, _, _ = rq("POST", CM + "?dryRun=All", cm("dry"))
            st2, _, _ = rq("GET", CM + "/dry")
            return (st, st2) == (201, 404) or (st, st2)
        T.run("dry_run_create", t_dry_run_create)

        def t_bad_input():
            cases = [
                ("POST", CM, b"{not json", "application/json", 400),
                ("POST", CM, b"[1,2]", "application/json", 400),
                ("POST", CM, b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}', "application/json", 400),
                ("POST", CM, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}',
                 "application/json", 422),
                ("POST", CM, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x",'
                             b'"labels":{"a":"b c"}}}', "application/json", 422),
                ("POST", CM, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":""}}',
                 "application/json", 422),
                ("POST", CM, b'{"metadata":{"name":"x"}}', "text/plain", 415),
                ("POST", CM, b"k8s\x00\xff\xff", "application/vnd.kubernetes.protobuf", 415),
                ("PATCH", CM + "/c1", b'[{"op":"replace","path":"/nope/x","value":1}]',
                 "application/json-patch+json", 422),
                ("PATCH", CM + "/c1", b'{"data":', "application/merge-patch+json", 400),
                ("PATCH", CM + "/c1", b'"just a string"', "application/merge-patch+json", 400),
                ("PATCH", CM + "/c1", b"{}", "application/foo", 415),
                ("PUT", CM + "/c1", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}',
                 "application/json", 400),
                ("GET", CM + "?limit=5&continue=garbage", None, None, 400),
                ("GET", CM + "?watch=true&resourceVersion=abc", None, None, 400),
                ("GET", CM + "?fieldSelector=spec.x%3D1", None, None, 400),
                ("GET", "/api/v1/namespaces/default/nosuchthings", None, None, 404),
                ("GET", "/apis/nosuch.group/v1/things", None, None, 404),
                ("POST", WD, b'{"apiVersion":"kubesim.logplane.io/v1alpha1","kind":"Widget","metadata":'
                             b'{"name":"w"},"spec":{"color":"red","tags":["a","b","c","d","e"],"size":1.5}}',
                 "application/json", 422),
                ("POST", WD, b'{"apiVersion":"kubesim.logplane.io/v1alpha1","kind":"Widget","metadata":'
                             b'{"name":"w"},"spec":"oops"}', "application/json", 422),
                ("DELETE", CM + "/c1", b'{"preconditions":{"uid":"nope"}}', "application/json", 409),
                ("POST", CM, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rv","resourceVersion":"5"}}',
                 "application/json", 400),
                ("POST", CM, b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"k"},"data":{"a/b":"x"}}',
                 "application/json", 422),
                ("POST", NS + "/secrets", b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},'
                                          b'"data":{"a":"not base64!"}}', "application/json", 400),
                ("POST", NS + "/services", b'{"apiVersion":"v1","kind":"Service","metadata":{"name":"1svc"},'
                                           b'"spec":{"ports":[{"port":80}]}}', "application/json", 422),
                ("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                 b'{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",'
                 b'"metadata":{"name":"x.y"},"spec":{"group":"y","names":{"plural":"z","kind":"Z"},'
                 b'"scope":"Everywhere","versions":[]}}', "application/json", 422),
            ]
            bad = []
            for method, path, body, ct, want in cases:
                st, _, b = rq(method, path, body, ctype=ct or "application/json") if body is not None else \
                    rq(method, path)
                if st != want or not isinstance(b, dict) or b.get("kind") != "Status" or not b.get("message"):
                    bad.append("%s %s -> %d (want %d) %s" % (method, path, st, want, str(b)[:160]))
            rq("POST", WD, widget("fmt"))
            st, _, f = rq("PATCH", WD + "/fmt/status", {"status": {"conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "now"}]}},
                ctype="application/merge-patch+json")
            if st != 422 or "status.conditions[0].lastTransitionTime in body must be of type date-time" not in \
                    f.get("message", ""):
                bad.append("date-time format not checked: %d %s" % (st, f))
            st, _, w = rq("POST", WD, {"apiVersion": "kubesim.logplane.io/v1alpha1", "kind": "Widget",
                                       "metadata": {"name": "w"}, "spec": {"color": "red", "size": "1"}})
            if st != 422 or w["details"]["causes"][0]["field"] != "spec.size":
                bad.append("type error does not name spec.size: %s" % w)
            errs = ks.admin("GET", "/admin/counters")["errors"]
            if "500" in errs:
                bad.append("server answered 500 %d times" % errs["500"])
            return not bad or bad
        T.run("bad_input_clear_errors_no_500", t_bad_input)

        def t_builtin_unknown_fields():
            d = deployment("typo")
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolocy"] = "Always"
            st, _, b = rq("POST", "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", d)
            want = 'unknown field "spec.template.spec.containers[0].imagePullPolocy"'
            st2, h2, o = rq("POST", "/apis/apps/v1/namespaces/default/deployments", d)
            c = o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0]
            st3, _, b3 = rq("POST", CM + "?fieldValidation=Strict", {"apiVersion": "v1", "kind": "ConfigMap",
                                                                      "metadata": {"name": "t", "lables": {}}})
            return (st == 400 and want in b["message"] and st2 == 201 and "imagePullPolocy" not in c and
                    "containers[0].imagePullPolocy" in h2.get("Warning", "") and st3 == 400 and '"metadata.lables"' in b3["message"]) or \
                "%d %s / %d %s / %d" % (st, b.get("message"), st2, h2.get("Warning"), st3)
        T.run("builtin_unknown_fields", t_builtin_unknown_fields)

        def t_crd_delete():
            rq("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.kubesim.logplane.io")
            gone = wait_for(lambda: rq("GET", WD)[0] == 404, 5)
            _, _, apis = rq("GET", "/apis")
            r = ks.kubectl("apply", "-f", os.path.join(HERE, "testdata", "crds"))
            st, _, l = rq("GET", WD)
            return (gone and not any(g["name"] == "kubesim.logplane.io" for g in apis["groups"]) and
                    r.returncode == 0 and st == 200 and l["items"] == []) or "%s %s" % (gone, st)
        T.run("crd_delete_removes_kind_and_objects", t_crd_delete)

        def t_query_booleans():
            # as a real server: any value but 0/f/false/n/no (any case) is true
            from ks_testlib import WatchStream
            rq("POST", CM, cm("qb1"))
            got = {}
            for v in ("True", "1", "yes", "TRUE"):
                w = WatchStream(ks, CM + "?watch=%s&timeoutSeconds=1" % v, timeout=10)
                ev = w.next()
                w.close()
                got[v] = (ev or {}).get("type")
            for v in ("False", "0", "no"):
                st, _, o = rq("GET", CM + "?watch=" + v)
                got[v] = o.get("kind") if st == 200 else st
            return got == {"True": "ADDED", "1": "ADDED", "yes": "ADDED", "TRUE": "ADDED",
                           "False": "ConfigMapList", "0": "ConfigMapList", "no": "ConfigMapList"} or got
        T.run("query_booleans_like_real", t_query_booleans)

        def t_events_table():
            ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "ev1"},
                  "involvedObject": {"kind": "ConfigMap", "name": "qb1", "namespace": "default"},
                  "reason": "Test", "message": "hello", "type": "Normal"}
            st, _, _ = rq("POST", NS + "/events", ev)
            st2, _, t = rq("GET", NS + "/events", accept="application/json;as=Table;v=v1;g=meta.k8s.io")
            cols = [c["name"] for c in t.get("columnDefinitions", [])]
            row = t["rows"][0]["cells"] if t.get("rows") else []
            # every cell under its own column: the name last, as a wide (priority 1) column
            return (st == 201 and st2 == 200 and len(cols) == len(row) and cols[-1] == "Name" and
                    row[-1] == "ev1" and t["columnDefinitions"][-1]["priority"] == 1 and
                    "Message" in cols and row[cols.index("Message")] == "hello") or "%s %s" % (cols, row)
        T.run("events_table_columns_match_cells", t_events_table)
    T.exit()


if __name__ == "__main__":
    main()
