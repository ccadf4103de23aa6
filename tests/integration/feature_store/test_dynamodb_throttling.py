"""DynamoDB throttling is retried with backoff. moto never throttles, so a small HTTP proxy in
front of moto answers the first requests of an operation with DynamoDB's throttling error
(exactly as AWS sends it) and forwards the rest."""

from __future__ import annotations

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from pynamodb.exceptions import GetError

from feature_store.dynamodb import DynamoDBConfig, DynamoDBFeatureStore
from feature_store.protocol import FeatureSet

FS = FeatureSet("customer_features", "1")
THROTTLED = (b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
             b'"message":"The level of configured provisioned throughput for the table was exceeded."}')


class ThrottlingProxy:
    def __init__(self, upstream: str, operation: str, throttle: int) -> None:
        self.attempts: list[float] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                target = self.headers.get("X-Amz-Target", "")
                if target.endswith("." + operation):
                    proxy.attempts.append(time.monotonic())
                    if len(proxy.attempts) <= throttle:
                        self._send(400, THROTTLED, "application/x-amz-json-1.0")
                        return
                up = httpx.post(upstream, content=body, headers=dict(self.headers), timeout=10)
                self._send(up.status_code, up.content, up.headers.get("content-type", ""))

            def _send(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def table(dynamodb_endpoint):
    name = f"thr-{uuid.uuid4().hex[:8]}"
    DynamoDBFeatureStore(DynamoDBConfig(endpoint=dynamodb_endpoint, table_name=name)).put(
        FS, "C-1", {"a": 1})
    return name


def store_via(proxy: ThrottlingProxy, table: str, retries: int) -> DynamoDBFeatureStore:
    return DynamoDBFeatureStore(DynamoDBConfig(endpoint=proxy.url, table_name=table,
                                               max_retry_attempts=retries, create_table=False))


def test_throttled_reads_are_retried_with_backoff(dynamodb_endpoint, table):
    """Three throttled attempts, then success: the read succeeds, with growing pauses."""
    proxy = ThrottlingProxy(dynamodb_endpoint, "BatchGetItem", throttle=3)
    try:
        assert store_via(proxy, table, retries=5).get(FS, "C-1") == {"a": 1}
    finally:
        proxy.close()
    assert len(proxy.attempts) == 4
    gaps = [b - a for a, b in zip(proxy.attempts, proxy.attempts[1:], strict=False)]
    assert all(g > 0 for g in gaps) and sum(gaps) > 0.01


def test_throttling_beyond_the_retry_budget_fails(dynamodb_endpoint, table):
    """When throttling outlasts max_retry_attempts the error surfaces (callers degrade)."""
    proxy = ThrottlingProxy(dynamodb_endpoint, "BatchGetItem", throttle=100)
    try:
        with pytest.raises(GetError):
            store_via(proxy, table, retries=2).get(FS, "C-1")
    finally:
        proxy.close()
    assert len(proxy.attempts) == 3
