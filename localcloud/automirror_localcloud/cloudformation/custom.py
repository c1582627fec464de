"""Custom resources in the local cloud, with CloudFormation's protocol: the function named by ServiceToken is
invoked with a Create or Delete request whose ResponseURL points back at this server, and the resource's outcome is
the JSON document the function PUTs there (Status, Reason, PhysicalResourceId, Data).

moto invokes custom-resource functions in Docker and never sends Delete; here they run on the local Lambda host
(set with POST /_automirror/lambda-endpoint or AUTOMIRROR_LAMBDA_ENDPOINT), and Delete is sent when the stack is
deleted or rolled back. Without a Lambda endpoint a custom resource fails with a message that says so.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel

from .resources import ResourceFailed

RESPONSE_PREFIX = "/cfn-response/"


class CustomResourceBroker:
    """Holds the Lambda endpoint and this server's own URL, and the responses functions PUT back."""

    def __init__(self) -> None:
        self.lambda_endpoint: str | None = None
        self.own_url: str | None = None
        self.timeout_seconds = 120.0
        self._responses: dict[str, dict] = {}
        self._ready = threading.Condition()

    def respond(self, request_id: str, body: dict) -> dict:
        with self._ready:
            if request_id not in self._responses:
                self._responses[request_id] = body
            self._ready.notify_all()
        return {"received": True}

    def request(self, service_token: str, event: dict) -> dict:
        """Invokes the function with the event and waits for its response document."""
        if not self.lambda_endpoint:
            raise ResourceFailed(f"custom resource {event['LogicalResourceId']}: the local cloud has no Lambda endpoint to "
                                 "invoke its ServiceToken with (POST /_automirror/lambda-endpoint)")
        if not self.own_url:
            raise ResourceFailed("the local cloud does not know its own URL for ResponseURL")
        request_id = event["RequestId"]
        event["ResponseURL"] = f"{self.own_url}/_automirror{RESPONSE_PREFIX}{request_id}"
        url = f"{self.lambda_endpoint.rstrip('/')}/2015-03-31/functions/{urllib.request.quote(service_token, safe='')}/invocations"
        invocation = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(invocation, timeout=self.timeout_seconds) as answer:
                function_error = answer.headers.get("X-Amz-Function-Error")
                payload = answer.read().decode("utf-8", errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            raise ResourceFailed(f"custom resource {event['LogicalResourceId']}: invoking {service_token} failed: {exc}") from exc
        with self._ready:
            # A function that failed before it responded would leave CloudFormation waiting for an hour; here its
            # error fails the resource at once, with the function's own message.
            if function_error and request_id not in self._responses:
                raise ResourceFailed(f"custom resource {event['LogicalResourceId']}: {service_token} failed "
                                     f"({function_error}) without responding: {payload[:500]}")
            if not self._ready.wait_for(lambda: request_id in self._responses, timeout=self.timeout_seconds):
                raise ResourceFailed(f"custom resource {event['LogicalResourceId']} did not respond to ResponseURL "
                                     f"within {self.timeout_seconds:.0f} s")
            return self._responses.pop(request_id)


BROKER = CustomResourceBroker()


class CustomResource:
    def __init__(self, logical_id: str, stack_id: str, resource_type: str, properties: dict,
                 response: dict) -> None:
        self.logical_id = logical_id
        self.stack_id = stack_id
        self.resource_type = resource_type
        self.properties = properties
        self.physical_resource_id = response.get("PhysicalResourceId") or logical_id
        self.data = response.get("Data") or {}

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, name: str) -> Any:
        if name not in self.data:
            raise ResourceFailed(f"custom resource {self.logical_id} returned no attribute {name}")
        return self.data[name]

    def delete_for_stack(self, stack: Any, request_type: str) -> None:
        response = BROKER.request(self.properties["ServiceToken"], {
            "RequestType": "Delete", "ServiceToken": self.properties["ServiceToken"], "StackId": self.stack_id,
            "RequestId": str(uuid.uuid4()), "LogicalResourceId": self.logical_id, "ResourceType": self.resource_type,
            "PhysicalResourceId": self.physical_resource_id, "ResourceProperties": self.properties,
        })
        if response.get("Status") != "SUCCESS":
            raise ResourceFailed(f"Received response status [FAILED] from custom resource. Message returned: "
                                 f"{response.get('Reason') or '(none)'}")


class CustomResourceModel(CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFormation::CustomResource"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True  # whatever Data the function returns

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        token = properties.get("ServiceToken")
        if not isinstance(token, str) or not token:
            raise ResourceFailed(f"custom resource {kwargs['LogicalId']}: ServiceToken did not resolve to a function ARN")
        event = {
            "RequestType": "Create", "ServiceToken": token, "StackId": kwargs["StackId"],
            "RequestId": str(uuid.uuid4()), "LogicalResourceId": kwargs["LogicalId"],
            "ResourceType": kwargs["ResourceType"], "ResourceProperties": properties,
        }
        response = BROKER.request(token, event)
        if response.get("Status") != "SUCCESS":
            raise ResourceFailed(f"Received response status [FAILED] from custom resource. Message returned: "
                                 f"{response.get('Reason') or '(none)'}")
        return CustomResource(kwargs["LogicalId"], kwargs["StackId"], kwargs["ResourceType"], properties, response)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,  # type: ignore[misc]
                                        cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        raise ResourceFailed("updating custom resources is not supported by the local cloud")

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        raise ResourceFailed("custom resources are deleted through their function")

    def is_created(self) -> bool:
        return True
