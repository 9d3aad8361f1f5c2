"""A local stand-in for the Certificate Management Service (CAS) API, version 2020-04-07.

It speaks the wire protocol the official `alibabacloud-cas20200407` SDK uses, so tests drive the real
SDK client against it (endpoint `127.0.0.1:<port>`, protocol `http`):

- RPC style: `POST /` with the operation's parameters in the query string (a form body is read too).
  The SDK's default (V3) signature puts the action and version in the `x-acs-action` / `x-acs-version`
  headers and signs with `Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=...,
  Signature=...`; the older V2 style sends `Action`, `Version`, `AccessKeyId` and `Signature` as
  parameters. Both are understood.
- The V3 signature is verified against the secrets the fake is given, so a test proves which
  credentials the client really used (a wrong secret gets `SignatureDoesNotMatch`).
- Success: HTTP 200 with a JSON body (`RequestId` plus the operation's fields, as in the API reference).
  Failure: HTTP 4xx/5xx with `{"Code", "Message", "RequestId"}`, which the SDK raises as an exception
  carrying `.code` and `.message`.

Operations: the CA registration's (CreateWarehouse, ListCertWarehouse, UploadPCACert, ListCert,
DeletePCACert) and those `alicloud.cas.ServiceCertificate` makes for a server certificate
(UploadUserCertificate, GetUserCertificateDetail, DeleteUserCertificate).

State: certificate repositories ("warehouses"), uploaded CA certificates (by string `Identifier`) and,
apart from them, uploaded user (SSL) certificates with their keys (by integer `CertId`); every request is
recorded. `ca_certificates()` and `user_certificates()` show what the fake holds.

Host names: with `hosts`, the fake answers only requests naming one of them (as an API endpoint answers only its
own name); tests point the SDK's own endpoint resolution at it through `HTTP_PROXY`.

Fault injection, scripted per call: `script(action, *faults)` makes the next calls of `action` (or, with
`"*"`, of every action, each from its own first call on) meet the given faults in order, then behave:
`THROTTLED` / `THROTTLED_API` (throttling answers), `UNAVAILABLE` (503), `Fault.error(...)` (any error
answer; nothing is done), `DROPPED` (the connection is closed before the call is served: nothing is
done, no answer) and `LOST_ANSWER` (the call is served, then the connection is closed before the
answer: done, but the client never learns it). `down()` drops every connection until `up()`.
`fail(action, code, message)` is the one-error shorthand. Each recorded request names the fault it met.

Assumptions the public API reference leaves open (marked where used): which `Type` ListCertWarehouse
reports for a repository made by CreateWarehouse, what DeletePCACert, GetUserCertificateDetail and
DeleteUserCertificate answer for an unknown certificate, and the codes for a bad certificate or key.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

API_VERSION = "2020-04-07"

# CreateWarehouse's `Type` values and the `Type` ListCertWarehouse reports for them (assumed mapping:
# the two operations document different vocabularies).
LISTED_WAREHOUSE_TYPE = {
    "uploadedAuthorityCertificate": "uploadCA",
    "uploadedCertificate": "uploadPCA",
    "pcaCertificate": "aliyunPCA",
}


@dataclass
class RecordedRequest:
    """One call as the fake received it."""

    action: str
    version: str
    params: dict[str, str]
    """Query and form parameters, decoded."""
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    access_key_id: str | None
    """From the V3 `Authorization` header or the V2 `AccessKeyId` parameter."""
    fault: str | None = None
    """The injected fault this call met (`Fault.name`), None when it was served normally."""


@dataclass(frozen=True)
class Fault:
    """One injected failure of one call."""

    kind: str
    """`error` (answer with an error, do nothing), `drop` (close without answer, do nothing) or
    `lost_answer` (do the call, then close without answer)."""
    status: int = 0
    code: str = ""
    message: str = ""

    @classmethod
    def error(cls, code: str, message: str, status: int = 400) -> Fault:
        return cls("error", status, code, message)

    @property
    def name(self) -> str:
        return f"{self.status} {self.code}" if self.kind == "error" else self.kind


# What Alibaba Cloud answers when it throttles (per user, per API) or is briefly unavailable.
THROTTLED = Fault.error("Throttling.User", "Request was denied due to user flow control.")
THROTTLED_API = Fault.error("Throttling", "Request was denied due to request throttling.")
UNAVAILABLE = Fault.error(
    "ServiceUnavailable", "The request has failed due to a temporary failure of the server.", status=503
)
DROPPED = Fault("drop")
LOST_ANSWER = Fault("lost_answer")


@dataclass
class FakeCas:
    """The fake service. Use as a context manager, or call `start()` / `stop()`."""

    credentials: dict[str, str] = field(default_factory=dict)
    """AccessKeyId -> AccessKeySecret accepted by the fake. Empty: accept any, verify nothing."""
    warehouses: dict[int, dict[str, Any]] = field(default_factory=dict)
    """WhId -> repository, as ListCertWarehouse returns it."""
    certs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Identifier -> uploaded CA certificate, with its `Cert` PEM and `WhId`."""
    requests: list[RecordedRequest] = field(default_factory=list)
    hosts: frozenset[str] = frozenset()
    """The host names this endpoint answers for (the `Host` a request names), as a real API endpoint answers only
    its own: a request for any other gets `InvalidHost`. Empty: any host. Tests reach a named host through the
    fake as the client's HTTP proxy (`HTTP_PROXY`), which the SDK honours for plain HTTP."""
    api_version: ClassVar[str] = API_VERSION
    """The API version served (`tests.fake_pca.FakePca` serves the PCA's)."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Fault]] = {}
        self._every: tuple[Fault, ...] = ()
        self._every_started: set[str] = set()
        self._outage = False
        self._ids = itertools.count(1001)
        self._user_certs: dict[int, dict[str, Any]] = {}
        self._cert_ids = itertools.count(15702001)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-cas", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """`host:port` to give the SDK as its endpoint (with protocol `http`)."""
        assert self._server is not None, "FakeCas is not started"
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    # -- test controls ---------------------------------------------------------------------------

    def fail(self, action: str, code: str, message: str, status: int = 400, times: int = 1) -> None:
        """Answer the next `times` calls of `action` with an error response."""
        self.script(action, *[Fault.error(code, message, status)] * times)

    def script(self, action: str, *faults: Fault) -> None:
        """The next calls of `action` meet `faults`, one each, in order; `"*"`: every action does, each
        from its own next call on (an action's own script comes first). Replaces an earlier script."""
        with self._lock:
            if action == "*":
                self._every, self._every_started = tuple(faults), set()
            else:
                self._scripts[action] = deque(faults)

    def down(self) -> None:
        """Close every connection without an answer (the endpoint is unreachable) until `up()`."""
        with self._lock:
            self._outage = True

    def up(self) -> None:
        with self._lock:
            self._outage = False

    def clear_faults(self) -> None:
        """No more injected faults: scripts dropped, the endpoint up."""
        with self._lock:
            self._scripts.clear()
            self._every, self._every_started, self._outage = (), set(), False

    def _next_fault(self, action: str) -> Fault | None:
        """The fault the current call of `action` meets (called with the lock held)."""
        if self._outage:
            return DROPPED
        if self._every and action not in self._every_started:
            self._every_started.add(action)
            self._scripts.setdefault(action, deque()).extend(self._every)
        queue = self._scripts.get(action)
        return queue.popleft() if queue else None

    def add_warehouse(self, name: str, type_: str) -> int:
        """Create a repository directly (as if made earlier in the console); returns its WhId."""
        with self._lock:
            return self._new_warehouse(name, type_)

    def ca_certificates(self) -> list[dict[str, Any]]:
        """The uploaded CA certificates (UploadPCACert), oldest first: identifier, name, cert, warehouse_id."""
        with self._lock:
            return [
                {"identifier": c["Identifier"], "name": c["Name"], "cert": c["Cert"], "warehouse_id": c["WhId"]}
                for c in self.certs.values()
            ]

    def user_certificates(self) -> list[dict[str, Any]]:
        """The uploaded user certificates (UploadUserCertificate), oldest first: cert_id, name, cert, has_key.

        The key itself is not shown: a test needs to know that one was uploaded, not its contents."""
        with self._lock:
            return [
                {"cert_id": c["Id"], "name": c["Name"], "cert": c["Cert"], "has_key": bool(c["Key"])}
                for c in self._user_certs.values()
            ]

    def calls(self, action: str) -> list[RecordedRequest]:
        """The recorded requests of one action, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.action == action]

    # -- wire protocol ---------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        target = handler.path
        if "://" in target:  # absolute-form: the client sent the request through us as its HTTP proxy
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, raw_query = target.partition("?")
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length).decode("utf-8") if length else ""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        query = _parse_params(raw_query)
        params = dict(query)
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(_parse_params(body))

        action = headers.get("x-acs-action") or params.get("Action", "")
        version = headers.get("x-acs-version") or params.get("Version", "")
        authorization = headers.get("authorization", "")
        access_key_id = _credential_from(authorization) or params.get("AccessKeyId")
        request_id = str(uuid.uuid4()).upper()

        with self._lock:
            fault = self._next_fault(action)
            self.requests.append(
                RecordedRequest(action, version, params, headers, access_key_id, fault.name if fault else None)
            )
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True  # no status line: the client sees the connection closed
            return None

        def reply(status: int, payload: dict[str, Any]) -> None:
            data = json.dumps({"RequestId": request_id, **payload}).encode("utf-8")
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json;charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

        def error(status: int, code: str, message: str) -> None:
            reply(status, {"Code": code, "Message": message, "HostId": "127.0.0.1", "Recommend": ""})

        host = headers.get("host", "").partition(":")[0]  # a name, or an IPv4 address, and its port
        if self.hosts and host not in self.hosts:
            return error(404, "InvalidHost", f"This endpoint does not answer for {host!r} (only {sorted(self.hosts)}).")
        if path != "/" or handler.command != "POST":
            return error(404, "InvalidAction.NotFound", f"{handler.command} {path} is not served here.")
        if version != self.api_version:
            return error(400, "InvalidVersion", f"Specified version {version!r} is not valid.")
        problem = self._check_signature(handler.command, path, query, headers, authorization)
        if problem is not None:
            return error(*problem)
        if fault is not None and fault.kind == "error":
            return error(fault.status, fault.code, fault.message)

        operation = getattr(self, f"_op_{action}", None)
        if operation is None:
            return error(404, "InvalidAction.NotFound", f"Specified api {action!r} is not found.")
        with self._lock:
            outcome = operation(params)
        if fault is not None and fault.kind == "lost_answer":
            handler.close_connection = True  # done, but the answer never leaves
            return None
        if isinstance(outcome, tuple):
            return error(*outcome)
        return reply(200, outcome)

    def _check_signature(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], authorization: str
    ) -> tuple[int, str, str] | None:
        if not self.credentials:
            return None
        if not authorization.startswith("ACS3-HMAC-SHA256 "):
            return 400, "MissingAuthorization", "This fake verifies only ACS3-HMAC-SHA256 signatures."
        fields = dict(part.split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
        secret = self.credentials.get(fields.get("Credential", ""))
        if secret is None:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        signed = fields.get("SignedHeaders", "").split(";")
        canonical_query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(query.items()))
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
        canonical_request = "\n".join(
            [
                method,
                path,
                canonical_query,
                canonical_headers,
                ";".join(signed),
                headers.get("x-acs-content-sha256", ""),
            ]
        )
        string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
        expected = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return 400, "SignatureDoesNotMatch", "Specified signature does not match our calculation."
        return None

    # -- operations (called with the lock held) --------------------------------------------------

    def _new_warehouse(self, name: str, type_: str) -> int:
        wh_id = next(self._ids)
        self.warehouses[wh_id] = {
            "WhId": wh_id,
            "Name": name,
            "Type": type_,
            "InstanceId": f"cas-wh-{wh_id}",
            "IsExpired": False,
            "EndTime": 4102444800000,
            "Qps": 10,
        }
        return wh_id

    def _op_CreateWarehouse(self, params: dict[str, str]) -> dict[str, Any]:
        wh_id = self._new_warehouse(params.get("Name", ""), LISTED_WAREHOUSE_TYPE.get(params.get("Type", ""), "ssl"))
        return {"WarehouseInstanceId": self.warehouses[wh_id]["InstanceId"]}

    def _op_ListCertWarehouse(self, params: dict[str, str]) -> dict[str, Any]:
        found = [
            w
            for w in self.warehouses.values()
            if params.get("Name", "") in w["Name"]
            and params.get("Type") in (None, w["Type"])
            and params.get("InstanceId") in (None, w["InstanceId"])
        ]
        return _page(params, "CertWarehouseList", found)

    def _op_UploadPCACert(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        try:
            wh_id = int(params["WarehouseId"])
        except (KeyError, ValueError):
            return 400, "MissingParameter.WarehouseId", "WarehouseId is mandatory for this action."
        if wh_id not in self.warehouses:
            return 400, "InvalidParameter.WarehouseId", f"Warehouse {wh_id} does not exist."
        pem = params.get("Cert", "")
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("utf-8"))
        except ValueError:
            return 400, "InvalidParameter.Cert", "The certificate is not a valid PEM certificate."
        identifier = uuid.uuid4().hex
        self.certs[identifier] = {
            "Identifier": identifier,
            "WhId": wh_id,
            "WhInstanceId": self.warehouses[wh_id]["InstanceId"],
            "Name": params.get("Name", ""),
            "Cert": pem,
            "CertType": "CA",
            "SourceType": "upload",
            "Status": "ISSUE",
            "CommonName": _first(cert.subject, x509.NameOID.COMMON_NAME),
            "Issuer": _first(cert.issuer, x509.NameOID.COMMON_NAME),
            "SerialNo": format(cert.serial_number, "x"),
            "Algorithm": _algorithm(cert.public_key()),
            "BeforeDate": int(cert.not_valid_before_utc.timestamp() * 1000),
            "AfterDate": int(cert.not_valid_after_utc.timestamp() * 1000),
            "ExistPrivateKey": "PrivateKey" in params,
        }
        return {"Identifier": identifier}

    def _op_DeletePCACert(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        # Assumed answer for an unknown identifier; the API reference lists no error codes.
        if self.certs.pop(params.get("Identifier", ""), None) is None:
            return 400, "NotFound.Certificate", "The certificate does not exist."
        return {}

    def _op_ListCert(self, params: dict[str, str]) -> dict[str, Any]:
        wanted = set(filter(None, params.get("Identifiers", "").split(",")))
        keyword = params.get("KeyWord", "")
        found = [
            {k: v for k, v in c.items() if k not in ("Cert", "Name")}  # the response carries neither
            for c in self.certs.values()
            if (not wanted or c["Identifier"] in wanted)
            # "fuzzy search by name, domain name, or subject alternative name" (the API reference)
            and (not keyword or any(keyword in c.get(f, "") for f in ("Name", "CommonName", "Sans")))
            and params.get("WarehouseId") in (None, str(c["WhId"]))
            and all(params.get(f) in (None, c[f]) for f in ("CertType", "SourceType", "Status"))
        ]
        return _page(params, "CertList", found)

    def _op_DescribeWarehouseCert(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        found = self.certs.get(params.get("CertIdentifier", ""))
        if found is None:
            # Assumed answer for an unknown identifier; the API reference lists no error codes.
            return 400, "NotFound.Certificate", "The certificate does not exist."
        cert = x509.load_pem_x509_certificate(found["Cert"].encode("utf-8"))
        return {
            "CertIdentifier": found["Identifier"],
            "Content": found["Cert"],
            "Fingerprint": cert.fingerprint(hashes.SHA256()).hex(),  # format undocumented
            "CommonName": found["CommonName"],
            "Issuer": found["Issuer"],
            "CertType": found["CertType"],
            "CertStatus": found["Status"],
            "WarehouseInstanceId": found["WhInstanceId"],
        }

    def _op_UploadUserCertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        for required in ("Name", "Cert", "Key"):
            if not params.get(required):
                return 400, f"MissingParameter.{required}", f"{required} is mandatory for this action."
        try:
            cert = x509.load_pem_x509_certificate(params["Cert"].encode("utf-8"))
        except ValueError:
            return 400, "InvalidParameter.Cert", "The certificate is not a valid PEM certificate."  # assumed code
        try:
            key = serialization.load_pem_private_key(params["Key"].encode("utf-8"), password=None)
        except (ValueError, TypeError):
            return 400, "InvalidParameter.Key", "The private key is not a valid PEM private key."  # assumed code
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, spki) != cert.public_key().public_bytes(
            serialization.Encoding.DER, spki
        ):
            return 400, "InvalidParameter.KeyMismatch", "The private key does not match the certificate."  # assumed
        cert_id = next(self._cert_ids)
        self._user_certs[cert_id] = _user_certificate_detail(
            cert_id, params["Name"], params["Cert"], params["Key"], cert
        )
        return {"CertId": cert_id, "ResourceId": f"cas-upload-{cert_id}"}

    def _user_cert(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        raw = params.get("CertId", "")
        if not raw:
            return 400, "MissingParameter.CertId", "CertId is mandatory for this action."
        try:
            cert_id = int(raw)
        except ValueError:
            return 400, "InvalidParameter.CertId", f"CertId {raw!r} is not a number."
        found = self._user_certs.get(cert_id)
        if found is None:
            # Assumed answer for an unknown certificate; the API reference lists no error codes.
            return 400, "NotFound", f"The certificate {cert_id} does not exist."
        return found

    def _op_GetUserCertificateDetail(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        found = self._user_cert(params)
        if isinstance(found, tuple):
            return found
        if params.get("CertFilter", "").lower() == "true":  # the SDK sends a bool as "True"
            return {k: v for k, v in found.items() if k not in ("Cert", "Key")}
        return dict(found)

    def _op_DeleteUserCertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        found = self._user_cert(params)
        if isinstance(found, tuple):
            return found
        del self._user_certs[found["Id"]]
        return {}


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    """The first value of one attribute of a distinguished name ("" when absent)."""
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _user_certificate_detail(cert_id: int, name: str, pem: str, key_pem: str, cert: x509.Certificate) -> dict[str, Any]:
    """GetUserCertificateDetail's fields for an uploaded certificate (those the API reference lists)."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        sans = []
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    return {
        "Id": cert_id,
        "Name": name,
        "Cert": pem,
        "Key": key_pem,
        "Common": _first(cert.subject, x509.NameOID.COMMON_NAME),
        "Sans": ",".join(sans),
        "Issuer": _first(cert.issuer, x509.NameOID.COMMON_NAME),
        "OrgName": _first(cert.subject, x509.NameOID.ORGANIZATION_NAME),
        "Country": _first(cert.subject, x509.NameOID.COUNTRY_NAME),
        "Province": _first(cert.subject, x509.NameOID.STATE_OR_PROVINCE_NAME),
        "City": _first(cert.subject, x509.NameOID.LOCALITY_NAME),
        "Fingerprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
        "SerialNo": format(cert.serial_number, "x"),
        "Algorithm": _algorithm(cert.public_key()),
        "StartDate": not_before.strftime("%Y-%m-%d"),
        "EndDate": not_after.strftime("%Y-%m-%d"),
        "NotBefore": int(not_before.timestamp() * 1000),
        "NotAfter": int(not_after.timestamp() * 1000),
        "Expired": not_after < datetime.now(UTC),
        "BuyInAliyun": False,
        "InstanceId": f"cas-upload-{cert_id}",
    }


def _algorithm(public_key: Any) -> str:
    """The `Algorithm` CAS reports: RSA, ECC (or SM2, which this fake does not issue)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ECC"
    return type(public_key).__name__


def _parse_params(raw: str) -> dict[str, str]:
    """Decode `a=b&c=d` as the SDK encodes it (`urlencode`: a space is `+`, a literal `+` is `%2B`)."""
    return dict(parse_qsl(raw, keep_blank_values=True))


def _page(params: dict[str, str], key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    page, size = int(params.get("CurrentPage", 1)), int(params.get("ShowSize", 50))
    return {
        key: items[(page - 1) * size : page * size],
        "TotalCount": len(items),
        "CurrentPage": page,
        "ShowSize": size,
    }


def _credential_from(authorization: str) -> str | None:
    for part in authorization.partition(" ")[2].split(","):
        name, _, value = part.partition("=")
        if name == "Credential":
            return value
    return None
