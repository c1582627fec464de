"""Error bodies in the shapes AWS services answer with, for errors raised before moto sees a request."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class AwsError:
    code: str
    message: str
    status: int

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500


# EC2 answers throttling with HTTP 503 and the RequestLimitExceeded code (a server error code in
# the EC2 error reference); other query services (ELBv2) call it Throttling with HTTP 400.
def throttling_error(service: str) -> AwsError:
    if service == "ec2":
        return AwsError("RequestLimitExceeded", "Request limit exceeded.", 503)
    return AwsError("Throttling", "Rate exceeded", 400)


SERVER_ERRORS = {
    "InternalError": AwsError("InternalError", "An internal error has occurred.", 500),
    "InternalFailure": AwsError("InternalFailure", "The request processing has failed because of an unknown error.", 500),
    "Unavailable": AwsError("Unavailable", "The server is overloaded and can't handle the request.", 503),
    "ServiceUnavailable": AwsError("ServiceUnavailable", "The request has failed due to a temporary failure of the server.", 503),
}


def named_error(service: str, code: str) -> AwsError:
    if code in ("RequestLimitExceeded", "Throttling"):
        return throttling_error(service)
    if code in SERVER_ERRORS:
        return SERVER_ERRORS[code]
    return AwsError(code, f"Injected {code}.", 400)


def render(service: str, protocol: str, error: AwsError) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        return error.status, headers, body
    if service == "ec2":
        # EC2's documented shape: Response/Errors/Error + RequestID.
        xml = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<Response><Errors><Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        kind = "Receiver" if error.is_server_error else "Sender"
        xml = (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(error.code)}</Code>"
            f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return error.status, headers, xml.encode()
