#!/usr/bin/env python3
"""Generate crates/catalog/data/catalog.json.gz from a pinned botocore release.

Usage (from the repository root):

    python3 -m venv .venv-catalog
    .venv-catalog/bin/pip install botocore==$(cat crates/catalog/tools/BOTOCORE_VERSION)
    .venv-catalog/bin/python crates/catalog/tools/generate.py

The script refuses to run against any other botocore version than the pinned
one, so the committed blob is always reproducible. It writes a compact JSON
document (gzip, mtime 0, so byte-identical across runs) that the crate embeds
with `include_bytes!` and parses once at start.
"""
import gzip
import json
import os
import re
import sys

import botocore
import botocore.session

HERE = os.path.dirname(os.path.abspath(__file__))
PINNED = open(os.path.join(HERE, "BOTOCORE_VERSION")).read().strip()
OUT = os.path.join(HERE, "..", "data", "catalog.json.gz")

# Signing names whose IAM action prefix differs from the signing name.
IAM_PREFIX = {
    "monitoring": "cloudwatch",
    "tagging": "tag",
    "iotdata": "iot",
    "iot-jobs-data": "iotjobsdata",
    "awsssoportal": "sso",
    "email": "ses",
}

# Extra signing names a service accepts (from its endpoint rule set's
# authSchemes), beside its metadata signing name.
EXTRA_SIGNING = {
    "s3": ["s3-object-lambda", "s3-outposts", "s3express"],
    "s3control": ["s3-outposts"],
}

# Protocols AWS still serves for a service although the current model no
# longer lists them (SDKs released before the switch still use them).
EXTRA_PROTOCOLS = {
    "sqs": ["query"],
}

SUPPORTED = {"json", "rest-json", "rest-xml", "query", "ec2", "smithy-rpc-v2-cbor"}


def arnish(name):
    return name.endswith("Arn") or name.endswith("ARN") or name.endswith("arn") or name.endswith("Arns") or name.endswith("ARNs")


def main():
    if botocore.__version__ != PINNED:
        sys.exit(f"botocore {botocore.__version__} installed, {PINNED} pinned")
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    services = []
    for name in sorted(session.get_available_services()):
        model = loader.load_service_model(name, "service-2")
        md = model["metadata"]
        shapes = model["shapes"]
        protocols = [p for p in md.get("protocols", [md["protocol"]]) if p in SUPPORTED]
        if md["protocol"] not in protocols:
            protocols.insert(0, md["protocol"])
        protocols += [p for p in EXTRA_PROTOCOLS.get(name, []) if p not in protocols]
        signing = md.get("signingName", md["endpointPrefix"])
        ops = []
        for op_name in sorted(model["operations"]):
            op = model["operations"][op_name]
            http = op.get("http", {})
            req_q, req_h, located, arns = [], [], [], []
            inp = op.get("input")
            if inp:
                shape = shapes[inp["shape"]]
                required = set(shape.get("required", []))
                for mname, m in shape.get("members", {}).items():
                    loc = m.get("location")
                    locname = m.get("locationName", mname)
                    if loc == "querystring":
                        located.append([mname, "q", locname])
                        if mname in required:
                            req_q.append(locname)
                    elif loc == "header":
                        located.append([mname, "h", locname.lower()])
                        if mname in required:
                            req_h.append(locname.lower())
                    elif loc == "uri":
                        located.append([mname, "u", locname])
                    elif loc is None and arnish(mname):
                        arns.append(mname)
            ops.append([
                op_name,
                http.get("method", "POST"),
                http.get("requestUri", "/"),
                req_q,
                req_h,
                located,
                arns,
                bool(op.get("deprecated", False)),
            ])
        services.append({
            "n": name,
            "sig": [signing] + EXTRA_SIGNING.get(name, []),
            "ep": md["endpointPrefix"],
            "iam": IAM_PREFIX.get(signing, signing),
            "p": protocols,
            "tp": md.get("targetPrefix", ""),
            "v": md.get("apiVersion", ""),
            "ops": ops,
        })
    doc = {"botocore": PINNED, "services": services}
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
            gz.write(raw)
    nops = sum(len(s["ops"]) for s in services)
    print(f"{len(services)} services, {nops} operations, {len(raw)} bytes raw, {os.path.getsize(OUT)} bytes gz")


if __name__ == "__main__":
    main()
