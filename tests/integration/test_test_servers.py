"""The real servers the contract suites run against start, answer and reset."""

import httpx
import redis


def test_redis_fixture_is_a_fresh_real_server(redis_url):
    r = redis.Redis.from_url(redis_url)
    assert r.dbsize() == 0
    r.set("k", "v")
    assert r.get("k") == b"v"


def test_moto_serves_dynamodb_over_http(dynamodb_endpoint):
    body = {"TableName": "t", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST"}
    headers = {"X-Amz-Target": "DynamoDB_20120810.CreateTable",
               "Content-Type": "application/x-amz-json-1.0",
               "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/dynamodb/"
                                "aws4_request, SignedHeaders=host, Signature=x"}
    r = httpx.post(dynamodb_endpoint, json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["TableDescription"]["TableName"] == "t"
