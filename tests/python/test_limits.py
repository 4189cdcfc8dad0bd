"""Limits and lifecycle: upstream down, slow upstream, oversized input,
slow clients and graceful drain. Nothing hangs; the gateway keeps running."""

import signal
import socket
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import Gateway, free_port


class FakeUpstream:
    """A loopback HTTP server that answers every request after `delay`
    seconds (or never, with delay=None)."""

    def __init__(self, delay):
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            conn.settimeout(10)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                if self.delay is None:
                    self.stopped.wait(30)
                    return
                time.sleep(self.delay)
                body = b'<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/slow</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>'
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass

    def stop(self):
        self.stopped.set()
        self.sock.close()


def quick_client(gw, service):
    return gw.client(service, read_timeout=20, connect_timeout=5)


def test_upstream_down_is_service_unavailable():
    dead_port = free_port()  # nothing listens here
    gw = Gateway(f"http://127.0.0.1:{dead_port}", "AKIAUP", "upstream-secret")
    try:
        with pytest.raises(ClientError) as e:
            quick_client(gw, "sts").get_caller_identity()
        assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        status, metrics = gw.admin("/metrics")
        assert 'countersign_upstream_errors_total{kind="connect"}' in metrics
    finally:
        gw.stop()


def test_slow_upstream_is_gateway_timeout():
    upstream = FakeUpstream(delay=None)
    gw = Gateway(upstream.url, "AKIAUP", "upstream-secret", limits={"upstream_response_timeout_secs": 1})
    try:
        with pytest.raises(ClientError) as e:
            quick_client(gw, "sts").get_caller_identity()
        assert e.value.response["Error"]["Code"] == "GatewayTimeout"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 504
    finally:
        gw.stop()
        upstream.stop()


def raw_exchange(port, payload, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def test_limits_on_headers_bodies_and_slow_clients():
    upstream = FakeUpstream(delay=0)
    gw = Gateway(upstream.url, "AKIAUP", "upstream-secret",
                 limits={"max_header_bytes": 16384, "max_buffered_body_bytes": 1024, "header_read_timeout_secs": 1})
    try:
        # A head larger than max_header_bytes.
        huge = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"
        answer = raw_exchange(gw.port, huge)
        assert answer.startswith(b"HTTP/1.1 431")
        # A body that must be buffered to be verified, above the limit.
        ddb = quick_client(gw, "dynamodb")
        with pytest.raises(ClientError) as e:
            ddb.put_item(TableName="t", Item={"pk": {"S": "x" * 4096}})
        assert e.value.response["Error"]["Code"] == "RequestEntityTooLarge"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        # A client that never finishes its head is cut off by the header read timeout.
        started = time.monotonic()
        raw_exchange(gw.port, b"GET / HTTP/1.1\r\nHost: x\r\n", timeout=15)
        assert time.monotonic() - started < 10
        # And the gateway still serves.
        assert quick_client(gw, "sts").get_caller_identity()["Arn"].endswith("user/slow")
    finally:
        gw.stop()
        upstream.stop()


def test_sigterm_drains_in_flight_requests():
    upstream = FakeUpstream(delay=2)
    gw = Gateway(upstream.url, "AKIAUP", "upstream-secret", limits={"shutdown_grace_secs": 10})
    result = {}

    def call():
        try:
            result["arn"] = quick_client(gw, "sts").get_caller_identity()["Arn"]
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    try:
        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.7)  # the request is in flight, waiting on the slow upstream
        gw.proc.send_signal(signal.SIGTERM)
        worker.join(timeout=20)
        assert result.get("arn", "").endswith("user/slow"), result
        assert gw.proc.wait(timeout=15) == 0
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
    finally:
        gw.stop()
        upstream.stop()
