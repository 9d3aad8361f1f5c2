"""The Alibaba Cloud API layer on its own: one paging helper for every list call, and the retries (on tenacity) of
one operation. The providers' tests drive the same code through the real SDKs against the fakes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from components.alicloud_api import PAGE_SIZE, Attempts, CasApiError, RetryPolicy, list_all

FAST = RetryPolicy(deadline=5.0, base=0.001, cap=0.01)


class PagedList:
    """A list call as the SDK client exposes one: a request with `current_page` / `show_size`, an answer with one
    page of items and the `total_count`."""

    def __init__(self, total: int) -> None:
        self.items = list(range(total))
        self.asked: list[dict] = []

    def __call__(self, request: SimpleNamespace) -> SimpleNamespace:
        self.asked.append(vars(request))
        start = (request.current_page - 1) * request.show_size
        page = self.items[start : start + request.show_size]
        return SimpleNamespace(body=SimpleNamespace(things=page, total_count=len(self.items)))


@pytest.mark.parametrize(
    ("total", "pages"), [(0, 1), (1, 1), (PAGE_SIZE, 1), (PAGE_SIZE + 1, 2), (2 * PAGE_SIZE + 7, 3)]
)
def test_every_item_of_every_page_is_listed_and_no_page_more(total, pages):
    method = PagedList(total)

    listed = list(list_all("ListThings", method, SimpleNamespace, "things", name="alb-mtls"))

    assert listed == method.items
    assert [a["current_page"] for a in method.asked] == list(range(1, pages + 1))
    assert all(a["name"] == "alb-mtls" and a["show_size"] == PAGE_SIZE for a in method.asked)


def test_a_retryable_failure_is_retried_and_a_step_can_tell_a_retry():
    attempts, seen = Attempts(FAST), []

    def step() -> str:
        seen.append(attempts.failed)
        if len(seen) < 3:
            raise CasApiError("ListCert", "Throttling.User", "slow down", retryable=True)
        return "done"

    assert attempts.run(step) == "done"
    assert seen == [0, 1, 2]


def test_any_other_failure_fails_at_once_as_it_was():
    attempts, calls = Attempts(FAST), []
    refusal = CasApiError("UploadPCACert", "InvalidParameter.Cert", "bad")

    def step() -> None:
        calls.append(1)
        raise refusal

    with pytest.raises(CasApiError) as raised:
        attempts.run(step)
    assert raised.value is refusal and calls == [1]


def test_past_the_deadline_the_error_says_how_often_and_for_how_long_it_was_tried():
    attempts = Attempts(RetryPolicy(deadline=0.05, base=0.001, cap=0.01))

    def step() -> None:
        raise CasApiError("ListCert", "ServiceUnavailable", "busy", "req-1", status=503, retryable=True)

    with pytest.raises(CasApiError) as raised:
        attempts.run(step)

    message = str(raised.value)
    assert message.startswith("CAS ListCert failed: ServiceUnavailable: busy; gave up after ")
    assert " attempts in 0 s (transient failures are retried for 0.05 s) (RequestId req-1)" in message
    assert raised.value.retryable is False and raised.value.status == 503
