"""Error bodies in the two shapes Google's APIs use.

The Cloud Storage JSON API answers with a legacy ``errors`` list carrying ``reason``/``domain``;
the IAM API (a One Platform API) answers with a canonical ``status`` such as ``NOT_FOUND``.
"""


class ApiError(Exception):
    def __init__(self, code, body):
        super().__init__(body["error"]["message"])
        self.code = code
        self.body = body


def storage_error(code, reason, message):
    return ApiError(
        code,
        {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
            }
        },
    )


_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    501: "UNIMPLEMENTED",
}


def platform_error(code, message, status=None):
    status = status or _STATUS.get(code, "UNKNOWN")
    return ApiError(code, {"error": {"code": code, "message": message, "status": status}})
