"""Fetching a bulk job's results file, which lives on a storage host, not the API.

Its pre-signed address is a credential of sorts: it is fetched without the API key, each
redirect is checked like api_url, and the address is hidden from the logs before it is
requested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from target_attentive import masking
from target_attentive.answers import ResultsUnavailable
from target_attentive.settings import _check_api_url

MAX_RESULT_REDIRECTS = 5


def download(
    session: requests.Session,
    url: str,
    timeout: tuple[float, float],
    environment: Callable[[str], dict[str, Any]],
) -> bytes:
    """A bulk job's results file: on a storage host, without the API key.

    Redirects are followed by hand, each address checked like api_url (https unless
    loopback, no user name) and hidden from the logs before it is requested.
    """
    for _ in range(MAX_RESULT_REDIRECTS + 1):
        parts = urlsplit(url)
        masking.hide(url, parts.path + ("?" + parts.query if parts.query else ""))
        if _check_api_url(url.split("#")[0].split("?")[0]):
            raise ResultsUnavailable(
                "the results file's address is not one the target fetches (https, or "
                "http on loopback, without a user name)"
            )
        failure = None
        try:
            response = session.get(url, timeout=timeout, allow_redirects=False, **environment(url))
        except requests.RequestException as exc:
            failure = type(exc).__name__
        if failure is not None:  # raised outside the except: no chained text with the URL
            raise ResultsUnavailable(f"the results file could not be fetched ({failure})")
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            response.close()
            continue
        if not 200 <= response.status_code < 300:
            raise ResultsUnavailable(f"the results file answered HTTP {response.status_code}")
        return response.content
    raise ResultsUnavailable(f"the results file redirected more than {MAX_RESULT_REDIRECTS} times")
