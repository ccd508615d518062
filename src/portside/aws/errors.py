"""The AWS error envelope.

Every error a client can cause is an :class:`AwsError` carrying the AWS error
code (``__type`` on the wire) and the HTTP status. Services subclass it in
their own error modules (``domain/errors.py``); the protocol codecs turn it into
the envelope their protocol uses.

    AwsError
    ├── SerializationException      body is not valid for the protocol / wrong types
    ├── ValidationError             a parameter breaks the service model's constraints
    ├── UnknownOperationException   no such operation for the service
    ├── UnknownServiceError         the request names no service portside serves
    ├── RequestEntityTooLarge       the body is larger than the server accepts
    └── auth errors (403)           MissingAuthenticationToken, UnrecognizedClient,
                                    InvalidSignature, IncompleteSignature
"""

from __future__ import annotations


class AwsError(Exception):
    """An error with an AWS error code, sent to the client in its protocol's envelope."""

    code = "InternalFailure"
    status = 400
    sender_fault = True

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InternalFailure(AwsError):
    """A bug in portside; never raised for a client's mistake."""

    code = "InternalFailure"
    status = 500
    sender_fault = False


class SerializationException(AwsError):
    """The body could not be decoded, or a value has the wrong type."""

    code = "SerializationException"


class ValidationError(AwsError):
    """A parameter is missing, unknown or outside the model's constraints.

    Services map this to their own error name (ECS: InvalidParameterException).
    """

    code = "ValidationException"


class UnknownOperationException(AwsError):
    """The service has no such operation."""

    code = "UnknownOperationException"


class UnknownServiceError(AwsError):
    """The request does not name a service portside serves."""

    code = "UnknownServiceException"


class RequestEntityTooLarge(AwsError):
    """The body is larger than the server accepts."""

    code = "RequestEntityTooLargeException"
    status = 413


class MissingAuthenticationToken(AwsError):
    """The request carries no SigV4 signature."""

    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClient(AwsError):
    """The access key is not one portside accepts."""

    code = "UnrecognizedClientException"
    status = 403


class InvalidSignature(AwsError):
    """The signature does not match, or has expired."""

    code = "InvalidSignatureException"
    status = 403


class IncompleteSignature(AwsError):
    """The Authorization header is malformed."""

    code = "IncompleteSignatureException"
    status = 403
