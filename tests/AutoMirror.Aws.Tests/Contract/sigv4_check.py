"""Recomputes SigV4 signatures with botocore, an implementation independent of the AWS .NET SDK.

Reads a JSON list of captured requests on stdin ({url, headers, body, accessKey, secretKey, token, region, service});
for each, signs the headers the request says it signed, at the time it says it signed, and prints one JSON list of
{signature, bodyHashMatches}.
"""
import hashlib
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def check(captured: dict) -> dict:
    authorization = captured["headers"]["Authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: value for name, value in captured["headers"].items() if name.lower() in signed and name.lower() != "host"}
    body = captured["body"].encode("utf-8")
    request = AWSRequest(method="POST", url=captured["url"], data=body, headers=headers)
    request.context["timestamp"] = captured["headers"]["X-Amz-Date"]
    auth = SigV4Auth(Credentials(captured["accessKey"], captured["secretKey"], captured.get("token")), captured["service"], captured["region"])
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    return {
        "signature": signature,
        "bodyHashMatches": hashlib.sha256(body).hexdigest() == captured["headers"].get("X-Amz-Content-SHA256"),
        "signedHeaders": ";".join(sorted(auth.headers_to_sign(request).keys())),
    }


if __name__ == "__main__":
    print(json.dumps([check(item) for item in json.load(sys.stdin)]))
