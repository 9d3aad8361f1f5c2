"""The CA registration dynamic provider, driven with the real CAS SDK against a local fake CAS.

The provider's create/read/diff/update/delete/check are called directly (no engine); the SDK client
is pointed at `tests/fake_cas.py` (endpoint 127.0.0.1:<port>, protocol http), which verifies the
request signature against the credentials the test puts in the environment. The faults section scripts
the fake's failures (throttling, 503, dropped connections, lost answers, an outage) per call; retries
back off in milliseconds here (`CaCertificateProvider.RETRY`), and no test measures time.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dill
import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.rpc import UNKNOWN

from components.alicloud_api import CasApiError, RetryPolicy
from components.ca_registration import CaCertificateProvider, CaCertificateRegistration, CaCertificateRegistrationArgs
from tests.fake_cas import DROPPED, LOST_ANSWER, THROTTLED, THROTTLED_API, UNAVAILABLE, FakeCas

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "LTAI-test-access-key"
SECRET_KEY = "test-secret-key-never-in-state"
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"


# -- certificates ------------------------------------------------------------------------------


def _certificate(subject: str, *, ca: bool, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), name, key


@pytest.fixture(scope="module")
def ca() -> tuple[str, x509.Name, ec.EllipticCurvePrivateKey]:
    return _certificate("alb-mtls test root", ca=True)


@pytest.fixture(scope="module")
def ca_pem(ca) -> str:
    return ca[0]


@pytest.fixture(scope="module")
def leaf_pem(ca) -> str:
    _, name, key = ca
    return _certificate("alice", ca=False, issuer=(name, key))[0]


# -- fake CAS and provider ---------------------------------------------------------------------

FAST_RETRY = RetryPolicy(deadline=5.0, base=0.001, cap=0.01)
"""Retries that back off in milliseconds; the deadline is far beyond what a few retries take."""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(CaCertificateProvider, "RETRY", FAST_RETRY)


@pytest.fixture
def cas(monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALICLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", SECRET_KEY)
    with FakeCas(credentials={ACCESS_KEY: SECRET_KEY}) as fake:
        yield fake


@pytest.fixture
def provider() -> CaCertificateProvider:
    return CaCertificateProvider()


@pytest.fixture
def props(cas, ca_pem) -> dict:
    return {
        "certificate_pem": ca_pem,
        "name": "alb-mtls-client-ca",
        "region": "cn-hangzhou",
        "warehouse_name": "alb-mtls",
        "endpoint": cas.endpoint,
        "protocol": "http",
    }


# -- create ------------------------------------------------------------------------------------


def test_create_makes_the_repository_and_uploads_only_the_certificate(cas, provider, props, ca_pem):
    result = provider.create(props)

    (create_warehouse,) = cas.calls("CreateWarehouse")
    assert create_warehouse.params == {"Name": "alb-mtls", "Type": "uploadedAuthorityCertificate"}
    (upload,) = cas.calls("UploadPCACert")
    assert upload.params == {
        "WarehouseId": str(result.outs["warehouse_id"]),
        "Name": "alb-mtls-client-ca",
        "Cert": ca_pem,
    }
    assert "PrivateKey" not in upload.params
    assert upload.access_key_id == ACCESS_KEY  # and the fake checked the signature with SECRET_KEY
    assert result.id == result.outs["identifier"] == cas.certs[result.id]["Identifier"]
    assert cas.certs[result.id]["WhId"] == result.outs["warehouse_id"]
    assert cas.certs[result.id]["Cert"] == ca_pem


def test_outputs_carry_the_inputs_and_no_credentials(cas, provider, props):
    outs = provider.create(props).outs

    assert {k: outs[k] for k in props} == props
    assert set(outs) == set(props) | {"identifier", "warehouse_id"}
    assert ACCESS_KEY not in json.dumps(outs)
    assert SECRET_KEY not in json.dumps(outs)


def test_second_create_reuses_the_repository(cas, provider, props):
    first = provider.create(props)
    second = provider.create({**props, "name": "another-ca"})

    assert len(cas.calls("CreateWarehouse")) == 1
    assert first.outs["warehouse_id"] == second.outs["warehouse_id"]
    assert first.id != second.id


def test_existing_repository_is_found_by_exact_name(cas, provider, props):
    cas.add_warehouse("alb-mtls-staging", "uploadPCA")  # ListCertWarehouse matches names fuzzily
    wanted = cas.add_warehouse("alb-mtls", "uploadPCA")

    result = provider.create(props)

    assert cas.calls("CreateWarehouse") == []
    assert result.outs["warehouse_id"] == wanted


def test_repository_name_taken_by_another_kind_of_repository_is_an_error(cas, provider, props):
    cas.add_warehouse("alb-mtls", "aliyunPCA")

    with pytest.raises(CasApiError, match="choose another warehouse_name"):
        provider.create(props)
    assert cas.calls("UploadPCACert") == []


# -- errors and credentials --------------------------------------------------------------------


def test_api_error_names_the_call_and_the_code(cas, provider, props):
    cas.fail("UploadPCACert", "InvalidParameter.Cert", "The certificate format is invalid.")

    with pytest.raises(CasApiError) as raised:
        provider.create(props)

    assert str(raised.value).startswith(
        "CAS UploadPCACert failed: InvalidParameter.Cert: The certificate format is invalid. (RequestId "
    )
    assert raised.value.code == "InvalidParameter.Cert"


def test_credentials_come_from_the_alicloud_environment_variables(cas, provider, props, monkeypatch):
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", "not-the-secret")

    with pytest.raises(CasApiError, match="CAS ListCertWarehouse failed: SignatureDoesNotMatch"):
        provider.create(props)


def test_security_token_is_sent_with_the_request(cas, provider, props, monkeypatch):
    monkeypatch.setenv("ALICLOUD_SECURITY_TOKEN", "sts-token")

    provider.create(props)

    assert {r.headers.get("x-acs-security-token") for r in cas.requests} == {"sts-token"}


def test_without_alicloud_variables_the_default_credential_chain_is_used(cas, provider, props, monkeypatch):
    monkeypatch.delenv("ALICLOUD_ACCESS_KEY")
    monkeypatch.delenv("ALICLOUD_SECRET_KEY")
    # The chain's first link reads ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, captured when the SDK is imported.
    from alibabacloud_credentials.utils import auth_util

    monkeypatch.setattr(auth_util, "environment_access_key_id", ACCESS_KEY)
    monkeypatch.setattr(auth_util, "environment_access_key_secret", SECRET_KEY)

    provider.create(props)

    assert {r.access_key_id for r in cas.requests} == {ACCESS_KEY}


def test_half_set_alicloud_credentials_are_an_error(cas, provider, props, monkeypatch):
    monkeypatch.delenv("ALICLOUD_SECRET_KEY")

    with pytest.raises(ValueError, match="ALICLOUD_SECRET_KEY is not set"):
        provider.create(props)


def test_unreachable_endpoint_names_the_call(provider, props, monkeypatch):
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", SECRET_KEY)
    monkeypatch.setattr(CaCertificateProvider, "RETRY", RetryPolicy(deadline=0.2, base=0.001, cap=0.01))
    closed = FakeCas().start()
    endpoint = closed.endpoint
    closed.stop()

    with pytest.raises(CasApiError, match="^CAS ListCertWarehouse failed: no answer: .*Connection refused"):
        provider.create({**props, "endpoint": endpoint})


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [("cn-hangzhou", "cas.aliyuncs.com"), ("ap-southeast-1", "cas.ap-southeast-1.aliyuncs.com")],
)
def test_endpoint_defaults_to_the_documented_one_for_the_region(provider, region, endpoint, monkeypatch):
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", SECRET_KEY)

    assert provider.client({"region": region})._endpoint == endpoint
    assert provider.client({"region": region, "endpoint": "cas-vpc.example"})._endpoint == "cas-vpc.example"


# -- delete ------------------------------------------------------------------------------------


def test_delete_removes_the_certificate_and_keeps_the_repository(cas, provider, props):
    created = provider.create(props)

    provider.delete(created.id, created.outs)

    assert created.id not in cas.certs
    assert [r.params for r in cas.calls("DeletePCACert")] == [{"Identifier": created.id}]
    assert created.outs["warehouse_id"] in cas.warehouses


def test_delete_of_a_certificate_already_deleted_succeeds(cas, provider, props):
    created = provider.create(props)
    del cas.certs[created.id]  # deleted in the console

    provider.delete(created.id, created.outs)


def test_delete_failure_is_reported_while_the_certificate_remains(cas, provider, props):
    created = provider.create(props)
    cas.fail("DeletePCACert", "Forbidden.NoPermission", "You are not authorized to do this operation.")

    with pytest.raises(CasApiError, match="^CAS DeletePCACert failed: Forbidden.NoPermission: "):
        provider.delete(created.id, created.outs)
    assert created.id in cas.certs


# -- read --------------------------------------------------------------------------------------


def test_read_finds_the_certificate(cas, provider, props):
    created = provider.create(props)

    read = provider.read(created.id, created.outs)

    assert read.id == created.id
    assert read.outs == created.outs


def test_read_of_a_deleted_certificate_returns_an_empty_id(cas, provider, props):
    created = provider.create(props)
    del cas.certs[created.id]

    read = provider.read(created.id, created.outs)

    assert read.id == ""
    assert read.outs == {}  # a dict: the dynamic provider host adds `__provider` to it


# -- faults: retries, lost answers, outages ----------------------------------------------------


def _faults(cas: FakeCas, action: str) -> list[str | None]:
    """The fault each call of `action` met, in order (None: served normally)."""
    return [r.fault for r in cas.calls(action)]


@pytest.mark.parametrize(
    "faults",
    [(THROTTLED, UNAVAILABLE), (THROTTLED_API, DROPPED)],
    ids=["Throttling.User-then-503", "Throttling-then-dropped-connection"],
)
def test_every_call_failing_twice_still_registers_the_ca_once_and_deletes_it(cas, provider, props, ca_pem, faults):
    cas.script("*", *faults)

    created = provider.create(props)

    (held,) = cas.ca_certificates()
    assert held == {
        "identifier": created.id,
        "name": "alb-mtls-client-ca",
        "cert": ca_pem,
        "warehouse_id": created.outs["warehouse_id"],
    }
    assert len(cas.warehouses) == 1
    first_two = [f.name for f in faults]
    assert _faults(cas, "UploadPCACert") == [*first_two, None]  # failed twice, uploaded on the third call
    assert _faults(cas, "CreateWarehouse") == [*first_two, None]

    provider.delete(created.id, created.outs)  # DeletePCACert meets the same two faults first

    assert _faults(cas, "DeletePCACert") == [*first_two, None]
    assert cas.ca_certificates() == []


def test_read_retries_and_an_outage_is_not_mistaken_for_deletion(cas, provider, props, monkeypatch):
    created = provider.create(props)
    cas.script("ListCert", THROTTLED, UNAVAILABLE)

    assert provider.read(created.id, created.outs).id == created.id

    monkeypatch.setattr(CaCertificateProvider, "RETRY", RetryPolicy(deadline=0.2, base=0.001, cap=0.01))
    cas.down()
    with pytest.raises(CasApiError, match="^CAS ListCert failed: no answer: .*gave up after"):
        provider.read(created.id, created.outs)  # not ReadResult("") ("deleted out of band")


def test_upload_whose_answer_is_lost_is_adopted_by_the_retry_not_uploaded_again(cas, provider, props, ca_pem):
    cas.script("UploadPCACert", LOST_ANSWER)

    created = provider.create(props)

    (held,) = cas.ca_certificates()
    assert held["identifier"] == created.id
    assert held["cert"] == ca_pem
    assert _faults(cas, "UploadPCACert") == ["lost_answer"]  # one upload only
    assert [r.params["CertIdentifier"] for r in cas.calls("DescribeWarehouseCert")] == [created.id]


def test_upload_whose_answer_is_lost_in_an_interrupted_run_is_adopted_by_the_next_create(
    cas, provider, props, ca_pem, monkeypatch
):
    # The first run ends without a retry (deadline 0: as if it had been killed right after the call).
    monkeypatch.setattr(CaCertificateProvider, "RETRY", RetryPolicy(deadline=0, base=0.001, cap=0.01))
    cas.script("UploadPCACert", LOST_ANSWER)
    with pytest.raises(CasApiError, match="^CAS UploadPCACert failed: no answer: .*gave up after 1 attempt in"):
        provider.create(props)
    (orphan,) = cas.ca_certificates()  # uploaded, but no stack knows it

    monkeypatch.setattr(CaCertificateProvider, "RETRY", FAST_RETRY)
    created = provider.create(props)

    assert created.id == orphan["identifier"]
    assert cas.ca_certificates() == [orphan]
    assert len(cas.calls("UploadPCACert")) == 1
    assert created.outs["warehouse_id"] == orphan["warehouse_id"]


def test_only_the_same_certificate_under_the_same_name_is_adopted(cas, provider, props, ca_pem):
    other_ca = _certificate("alb-mtls test root", ca=True)[0]  # same subject, another key and serial
    same_elsewhere = provider.create({**props, "name": "another-name"})  # same certificate, other name
    other = provider.create({**props, "certificate_pem": other_ca})  # same name, other certificate

    created = provider.create(props)

    assert len({same_elsewhere.id, other.id, created.id}) == 3
    assert len(cas.ca_certificates()) == 3
    assert [c["cert"] for c in cas.ca_certificates() if c["identifier"] == created.id] == [ca_pem]


def test_repository_created_with_a_lost_answer_is_found_not_created_twice(cas, provider, props):
    cas.script("CreateWarehouse", LOST_ANSWER)

    created = provider.create(props)

    assert list(cas.warehouses) == [created.outs["warehouse_id"]]
    assert _faults(cas, "CreateWarehouse") == ["lost_answer"]
    assert len(cas.ca_certificates()) == 1


def test_delete_whose_answer_is_lost_succeeds_on_the_not_found_retry(cas, provider, props):
    created = provider.create(props)
    cas.script("DeletePCACert", LOST_ANSWER)

    provider.delete(created.id, created.outs)

    assert _faults(cas, "DeletePCACert") == ["lost_answer", None]  # the retry is answered "not found"
    assert cas.ca_certificates() == []


def test_delete_answered_not_found_while_the_certificate_is_still_listed_fails(cas, provider, props):
    created = provider.create(props)
    cas.fail("DeletePCACert", "NotFound.Certificate", "The certificate does not exist.")

    with pytest.raises(CasApiError, match="^CAS DeletePCACert failed: NotFound.Certificate: "):
        provider.delete(created.id, created.outs)

    assert [c["identifier"] for c in cas.ca_certificates()] == [created.id]  # reported, not leaked silently


@pytest.mark.parametrize(
    "refusal",
    [
        ("Forbidden.NoPermission", "You are not authorized to do this operation."),
        ("NotFound.Certificate", "The certificate does not exist."),
    ],
)
def test_delete_whose_follow_up_lookup_fails_too_reports_the_failure_and_forgets_nothing(cas, provider, props, refusal):
    """DeletePCACert refused, and the ListCert that would tell "already gone" refused as well: the certificate may
    still be in Certificate Management, so the delete fails (the stack keeps it) instead of forgetting it."""
    created = provider.create(props)
    cas.fail("DeletePCACert", *refusal)
    cas.fail("ListCert", "Forbidden.NoPermission", "You are not authorized to do this operation.", status=403)

    with pytest.raises(CasApiError, match=f"^CAS DeletePCACert failed: {refusal[0]}: "):
        provider.delete(created.id, created.outs)

    assert _faults(cas, "DeletePCACert") == [f"400 {refusal[0]}"]
    assert _faults(cas, "ListCert")[-1] == "403 Forbidden.NoPermission"  # the lookup was made, and refused
    assert [c["identifier"] for c in cas.ca_certificates()] == [created.id]


@pytest.mark.parametrize(
    ("action", "code", "status"),
    [
        ("UploadPCACert", "InvalidParameter.Cert", 400),
        ("ListCertWarehouse", "Forbidden.NoPermission", 403),
        ("CreateWarehouse", "NotFound.Product", 404),
    ],
)
def test_error_that_retrying_cannot_fix_fails_at_once(cas, provider, props, action, code, status):
    cas.fail(action, code, "Not going to work.", status=status, times=5)

    with pytest.raises(CasApiError) as raised:
        provider.create(props)

    assert str(raised.value).startswith(f"CAS {action} failed: {code}: Not going to work. (RequestId ")
    assert raised.value.retryable is False
    assert len(cas.calls(action)) == 1  # no retry
    assert cas.ca_certificates() == []


def test_endpoint_down_past_the_deadline_is_a_clear_error_and_leaves_nothing(cas, provider, props, monkeypatch):
    monkeypatch.setattr(CaCertificateProvider, "RETRY", RetryPolicy(deadline=0.3, base=0.001, cap=0.01))
    cas.down()

    with pytest.raises(CasApiError) as raised:
        provider.create(props)

    message = str(raised.value)
    assert message.startswith("CAS ListCertWarehouse failed: no answer: ")
    assert "Remote end closed connection without response" in message
    assert "transient failures are retried for 0.3 s" in message
    assert len(cas.calls("ListCertWarehouse")) > 1  # it did retry
    assert {r.action for r in cas.requests} == {"ListCertWarehouse"}
    cas.up()
    assert cas.ca_certificates() == [] and cas.warehouses == {}

    created = provider.create(props)  # back up: the next run converges

    assert [c["identifier"] for c in cas.ca_certificates()] == [created.id]


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_doubles_up_to_the_cap_with_jitter(attempt):
    policy = RetryPolicy(deadline=60, base=0.5, cap=4.0)
    step = min(4.0, 0.5 * 2**attempt)

    delays = [policy.wait(SimpleNamespace(attempt_number=attempt + 1)) for _ in range(50)]  # as tenacity asks

    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 1  # jittered


# -- diff and update ---------------------------------------------------------------------------


@pytest.fixture
def olds(ca_pem) -> dict:
    """State as the engine hands it to diff/update: the outputs, with a float for the number."""
    return {
        "certificate_pem": ca_pem,
        "name": "alb-mtls-client-ca",
        "region": "cn-hangzhou",
        "warehouse_name": "alb-mtls",
        "protocol": "https",
        "identifier": "5b8f0c3e2a9d4e7f8a1b2c3d4e5f6a7b",
        "warehouse_id": 1001.0,
        "__provider": "serialized",
    }


def _news(olds: dict, **changes) -> dict:
    inputs = {k: v for k, v in olds.items() if k not in ("identifier", "warehouse_id")}
    return {**inputs, **changes}


def test_diff_without_changes(provider, olds):
    diff = provider.diff(olds["identifier"], olds, _news(olds))

    assert diff.changes is False
    assert diff.replaces == []


@pytest.mark.parametrize(
    "change",
    [
        {"certificate_pem": "new-pem"},
        {"certificate_pem": UNKNOWN},
        {"certificate_pem": pulumi.output.Unknown()},
        {"warehouse_name": "other"},
        {"region": "ap-southeast-1"},
    ],
)
def test_diff_replaces_on_a_new_certificate_repository_or_region(provider, olds, change):
    diff = provider.diff(olds["identifier"], olds, _news(olds, **change))

    assert diff.changes is True
    assert diff.replaces == list(change)
    assert diff.delete_before_replace is False  # the new registration exists before the old one goes


@pytest.mark.parametrize(
    "change",
    [{"endpoint": "cas-vpc.cn-hangzhou.aliyuncs.com"}, {"protocol": "http"}, {"name": "alb-client-ca"}],
)
def test_diff_updates_in_place_on_a_new_endpoint_protocol_or_name(provider, olds, change):
    diff = provider.diff(olds["identifier"], olds, _news(olds, **change))

    assert diff.changes is True
    assert diff.replaces == []


def test_update_stores_the_new_endpoint_without_calling_cas(cas, provider, olds):
    news = _news(olds, endpoint=cas.endpoint, protocol="http")

    outs = provider.update(olds["identifier"], olds, news).outs

    assert outs["endpoint"] == cas.endpoint
    assert outs["protocol"] == "http"
    assert outs["identifier"] == olds["identifier"]
    assert outs["warehouse_id"] == 1001
    assert cas.requests == []


# -- check -------------------------------------------------------------------------------------


def _check_inputs(ca_pem: str, **changes) -> dict:
    return {"certificate_pem": ca_pem, "name": "alb-mtls-client-ca", "region": "cn-hangzhou", **changes}


def test_check_accepts_a_ca_certificate_and_fills_in_defaults(provider, ca_pem):
    result = provider.check({}, _check_inputs(ca_pem))

    assert result.failures == []
    assert result.inputs["warehouse_name"] == "alb-mtls"
    assert result.inputs["protocol"] == "https"


@pytest.mark.parametrize(
    "unknown",
    [UNKNOWN, pulumi.output.Unknown()],
    ids=["wire-sentinel", "Unknown-object (what the provider process gets: seen under the real engine)"],
)
def test_check_leaves_values_unknown_at_preview_alone(provider, unknown):
    result = provider.check({}, _check_inputs(unknown))

    assert result.failures == []


def _failures(result) -> list[tuple[str, str]]:
    return [(f.property, f.reason) for f in result.failures]


def test_check_rejects_a_certificate_that_is_not_a_ca(provider, leaf_pem):
    ((prop, reason),) = _failures(provider.check({}, _check_inputs(leaf_pem)))

    assert prop == "certificate_pem"
    assert "CA:TRUE" in reason and "alice" in reason


def test_check_rejects_a_pem_holding_a_private_key(provider, ca_pem, ca):
    key_pem = (
        ca[2]
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )

    failures = _failures(provider.check({}, _check_inputs(ca_pem + key_pem)))

    assert [prop for prop, _ in failures] == ["certificate_pem"]
    assert "private key" in failures[0][1]
    assert "BEGIN" not in failures[0][1]  # the key is not echoed back


@pytest.mark.parametrize(
    ("changes", "prop"),
    [
        ({"certificate_pem": "not a certificate"}, "certificate_pem"),
        ({"region": None}, "region"),
        ({"name": ""}, "name"),
        ({"protocol": "ftp"}, "protocol"),
        ({"endpoint": "https://cas.aliyuncs.com/"}, "endpoint"),
    ],
)
def test_check_names_the_bad_property(provider, ca_pem, changes, prop):
    failures = _failures(provider.check({}, _check_inputs(ca_pem, **changes)))

    assert [p for p, _ in failures] == [prop]


# -- serialization and registration --------------------------------------------------------------


def test_serialized_provider_runs_in_a_fresh_process_and_holds_no_credentials(leaf_pem, monkeypatch):
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", SECRET_KEY)
    serialized = serialize_provider(CaCertificateProvider())  # what pulumi.dynamic.Resource stores in `__provider`

    payload = base64.b64decode(serialized)
    assert ACCESS_KEY.encode() not in payload
    assert SECRET_KEY.encode() not in payload

    # The provider process (`python -m pulumi.dynamic`, started in the project directory) does this:
    script = (
        "import base64, json, sys, dill\n"
        "job = json.load(sys.stdin)\n"
        "provider = dill.loads(base64.b64decode(job['provider']))\n"
        "result = provider.check({}, job['inputs'])\n"
        "print(json.dumps([type(provider).__name__, [f.property for f in result.failures]]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    job = json.dumps({"provider": serialized, "inputs": _check_inputs(leaf_pem)})
    done = subprocess.run(
        [sys.executable, "-c", script], input=job, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["CaCertificateProvider", ["certificate_pem"]]


def test_provider_host_creates_reads_and_deletes_through_grpc(cas, props):
    """The real dynamic provider host, launched as the CLI does: `python -u -m pulumi.dynamic` in the project."""
    import grpc
    from google.protobuf import json_format, struct_pb2
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    def struct(values: dict) -> struct_pb2.Struct:
        message = struct_pb2.Struct()
        message.update(values)
        return message

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    host = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(host.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            urn = "urn:pulumi:test::alb-mtls::pulumi-python:dynamic:Resource::listener-ca"
            news = {**props, "__provider": serialize_provider(CaCertificateProvider())}

            checked = stub.Check(provider_pb2.CheckRequest(urn=urn, olds=struct({}), news=struct(news)))
            assert list(checked.failures) == []
            created = stub.Create(provider_pb2.CreateRequest(urn=urn, properties=checked.inputs))
            state = json_format.MessageToDict(created.properties)
            assert created.id == state["identifier"] in cas.certs
            assert cas.calls("UploadPCACert")[0].params["Cert"] == props["certificate_pem"]

            read = stub.Read(provider_pb2.ReadRequest(id=created.id, urn=urn, properties=created.properties))
            assert read.id == created.id
            stub.Delete(provider_pb2.DeleteRequest(id=created.id, urn=urn, properties=created.properties))
            assert created.id not in cas.certs
            gone = stub.Read(provider_pb2.ReadRequest(id=created.id, urn=urn, properties=created.properties))
            assert gone.id == ""

            cas.fail("UploadPCACert", "InvalidParameter.Cert", "The certificate format is invalid.")
            with pytest.raises(grpc.RpcError) as failed:
                stub.Create(provider_pb2.CreateRequest(urn=urn, properties=checked.inputs))
            assert "CAS UploadPCACert failed: InvalidParameter.Cert" in failed.value.details()
    finally:
        host.terminate()
        host.communicate(timeout=10)


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        """Plays the provider's create: the id is the CAS identifier, also returned as `identifier`."""
        self.registered.append(args)
        identifier = "1ed65580-7e33-6a50-8630-dd13fdc009ee"
        return identifier, {**args.inputs, "identifier": identifier, "warehouse_id": 1001}

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, None


def _reveal(value):
    """A value without the engine's secret wrapper."""
    return value["value"] if isinstance(value, dict) and "value" in value else value


def test_resource_registers_its_inputs_and_resolves_the_identifier(ca_pem):
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)

    @pulumi.runtime.test
    def run():
        registration = CaCertificateRegistration(
            "listener-ca",
            CaCertificateRegistrationArgs(certificate_pem=ca_pem, name="alb-mtls-client-ca", region="cn-hangzhou"),
        )

        def check(values):
            identifier, warehouse_id, resource_id = values
            (args,) = mocks.registered
            assert args.typ == DYNAMIC_TYPE
            assert args.name == "listener-ca"
            assert set(args.inputs) == {
                "certificate_pem",
                "name",
                "region",
                "warehouse_name",
                "protocol",
                "__provider",
            }
            assert args.inputs["certificate_pem"] == ca_pem
            assert args.inputs["warehouse_name"] == "alb-mtls"
            provider = dill.loads(base64.b64decode(_reveal(args.inputs["__provider"])))
            assert isinstance(provider, CaCertificateProvider)
            assert identifier == resource_id == "1ed65580-7e33-6a50-8630-dd13fdc009ee"
            assert warehouse_id == 1001

        return pulumi.Output.all(registration.identifier, registration.warehouse_id, registration.id).apply(check)

    run()


def test_renaming_keeps_the_uploaded_certificate_the_listener_uses(cas, provider, props):
    """A rename whose new name is part of the old (what CAS's keyword search matches) must not end with
    the certificate deleted: as a replacement, the new registration would adopt the old upload and the
    old one's delete would remove it."""
    created = provider.create({**props, "name": "prod-alb-mtls-client-ca"})
    state = {**props, "name": "prod-alb-mtls-client-ca", **created.outs}
    renamed = {**props, "name": "alb-mtls-client-ca"}

    diff = provider.diff(created.id, state, renamed)
    assert diff.replaces == []
    updated = provider.update(created.id, state, renamed)

    assert updated.outs["identifier"] == created.id
    assert updated.outs["name"] == "alb-mtls-client-ca"
    assert [c["identifier"] for c in cas.ca_certificates()] == [created.id]
    assert cas.calls("DeletePCACert") == [] and len(cas.calls("UploadPCACert")) == 1


# -- the alicloud provider's settings, read as the provider reads them ---------------------------

SETTINGS = [
    # (alicloud:endpoints, alicloud:protocol, what the provider's clients use: (cas host, SDK protocol) or None)
    (None, None, (None, "https")),
    ([{"cas": "cas-vpc.cn-hangzhou.aliyuncs.com"}], None, ("cas-vpc.cn-hangzhou.aliyuncs.com", "https")),
    ([{"cas": "127.0.0.1:8443"}], "HTTP", ("127.0.0.1:8443", "http")),
    ([{"ecs": "ecs.cn-hangzhou.aliyuncs.com"}], "HTTPS", (None, "https")),
    ([{"ecs": "ecs-vpc.example"}, {"cas": "cas.example:80"}], "HTTP", ("cas.example:80", "http")),
    ([{"cas": ""}], None, (None, "https")),
    ([], "HTTP", (None, "http")),
    (None, "https", None),  # upstream's StringInSlice is case-sensitive
    (None, "http", None),
    (None, "", None),
    (None, "FTP", None),
    ([{"cas": "http://127.0.0.1:8080"}], "HTTP", None),  # the scheme comes from alicloud:protocol only
    ([{"cas": "https://cas.aliyuncs.com"}], None, None),
    ([{"cas": "cas.aliyuncs.com/"}], None, None),
    ([{"cas": 8080}], None, None),
    ({"cas": "cas.aliyuncs.com"}, None, None),  # a list of objects, not one object
    (["cas.aliyuncs.com"], None, None),
]


@pytest.mark.parametrize(("endpoints", "protocol", "expected"), SETTINGS)
def test_the_program_and_the_alicloud_double_accept_and_refuse_the_same_provider_settings(
    endpoints, protocol, expected
):
    """`components.alicloud_api.cas_endpoint` (the program's CA registration and PCA calls) and the pulumi-alicloud
    double (tests/engine/alicloud_plugin.py, configured as the engine configures it: JSON-encoded variables) each
    read `alicloud:endpoints` and `alicloud:protocol` as terraform-provider-alicloud does; they agree on every
    setting, and with what upstream's schema says (protocol HTTP/HTTPS exactly, default HTTPS; endpoints a set of
    blocks of strings; the endpoint a host put after the scheme)."""
    from components.alicloud_api import ProviderSettingError, cas_endpoint
    from tests.engine.alicloud_plugin import SettingRefused, provider_settings

    try:
        ours = cas_endpoint(endpoints, protocol)
        program = (ours.host, ours.protocol)
    except ProviderSettingError as refusal:
        assert refusal.key.startswith("alicloud:") and repr(refusal.value) in str(refusal)
        program = None
    variables = {}
    if endpoints is not None:
        variables["alicloud:config:endpoints"] = json.dumps(endpoints)
    if protocol is not None:
        variables["alicloud:config:protocol"] = protocol
    try:
        settings = provider_settings(variables, {})
        double = (settings["casHost"], settings["protocol"].lower())
    except SettingRefused:
        double = None
    assert program == double == expected
