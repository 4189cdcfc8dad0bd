#!/usr/bin/env python3
"""Build one request per operation per protocol with the pinned botocore's own
serializers (nothing is sent) and write crates/catalog/tests/fixtures/sdk.jsonl.gz.

Usage (from the repository root, after tools/generate.py's setup):

    .venv-catalog/bin/python crates/catalog/tools/fixtures.py

Each line is a JSON object: service, operation, protocol, scope (signing name),
method, host, path, query, headers [[name, value]], body (text) or body_hex.
"""
import gzip
import json
import os
import sys
from urllib.parse import urlsplit

import botocore
import botocore.session
from botocore import serialize
from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.model import ServiceModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import EXTRA_PROTOCOLS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PINNED = open(os.path.join(HERE, "BOTOCORE_VERSION")).read().strip()
OUT = os.path.join(HERE, "..", "tests", "fixtures", "sdk.jsonl.gz")
BODY_LIMIT = 4096


def value_for(shape, name, depth=0):
    t = shape.type_name
    if t == "structure":
        out = {}
        if depth > 6:
            return out
        req = shape.metadata.get("required", [])
        if shape.is_union if hasattr(shape, "is_union") else False:
            req = req or list(shape.members)[:1]
        for m in req:
            out[m] = value_for(shape.members[m], m, depth + 1)
        return out
    if t == "list":
        return [value_for(shape.member, name, depth + 1)] if depth <= 6 else []
    if t == "map":
        return {"k": value_for(shape.value, name, depth + 1)} if depth <= 6 else {}
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        lo = name.lower()
        if lo.endswith("arn"):
            return "arn:aws:svc:us-east-1:123456789012:thing/x1"
        if name == "Bucket":
            return "amzn-bucket"
        if name == "QueueUrl":
            return "https://sqs.us-east-1.amazonaws.com/123456789012/q1"
        return "v-" + name.lower()[:20]
    if t in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if t in ("float", "double"):
        return 1.0
    if t == "boolean":
        return True
    if t == "timestamp":
        return 1700000000
    if t == "blob":
        return b"blob"
    return "x"


def main():
    if botocore.__version__ != PINNED:
        sys.exit(f"botocore {botocore.__version__} installed, {PINNED} pinned")
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    lines, failures = [], []
    for name in sorted(session.get_available_services()):
        raw = loader.load_service_model(name, "service-2")
        md = raw["metadata"]
        protocols = md.get("protocols", [md["protocol"]])
        if md["protocol"] not in protocols:
            protocols = [md["protocol"]] + protocols
        protocols = protocols + [p for p in EXTRA_PROTOCOLS.get(name, []) if p not in protocols]
        signing = md.get("signingName", md["endpointPrefix"])
        host = f"{md['endpointPrefix']}.us-east-1.amazonaws.com"
        for proto in protocols:
            if proto not in serialize.SERIALIZERS:
                continue
            raw2 = dict(raw)
            raw2["metadata"] = dict(md, protocol=proto)
            model = ServiceModel(raw2, service_name=name)
            ser = serialize.create_serializer(proto, include_validation=False)
            for op_name in model.operation_names:
                op = model.operation_model(op_name)
                try:
                    params = value_for(op.input_shape, "") if op.input_shape else {}
                    rd = ser.serialize_to_request(params, op)
                    prepare_request_dict(rd, endpoint_url=f"https://{host}")
                    req = AWSRequest(method=rd["method"], url=rd["url"], data=rd["body"], headers=rd["headers"]).prepare()
                except Exception as e:  # noqa: BLE001
                    failures.append(f"{name} {proto} {op_name}: {e!r}")
                    continue
                u = urlsplit(req.url)
                body = req.body or b""
                if isinstance(body, str):
                    body = body.encode()
                if not isinstance(body, (bytes, bytearray)):
                    body = b""
                body = bytes(body[:BODY_LIMIT])
                rec = {
                    "service": name, "operation": op_name, "protocol": proto, "scope": signing,
                    "method": req.method, "host": u.netloc, "path": u.path or "/", "query": u.query,
                    "headers": [[k, v if isinstance(v, str) else v.decode()] for k, v in req.headers.items()],
                }
                try:
                    rec["body"] = body.decode("utf-8")
                except UnicodeDecodeError:
                    rec["body_hex"] = body.hex()
                lines.append(json.dumps(rec, separators=(",", ":")))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
            gz.write(("\n".join(lines) + "\n").encode())
    print(f"{len(lines)} fixtures, {len(failures)} not serializable, {os.path.getsize(OUT)} bytes gz")
    for f_ in failures[:20]:
        print("  ", f_)


if __name__ == "__main__":
    main()
