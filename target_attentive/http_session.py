"""HTTP sessions for Attentive and for bulk results files, and the environment they heed.

requests reads proxy variables, .netrc and CA bundle variables again on every request (a
third of its CPU per call), and a .netrc entry for the host would replace the API key. So
sessions read no environment themselves: it is read once per host (`Environments`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from target_attentive.settings import connected_url, is_loopback

USER_AGENT = "target-attentive/0.1 (+singer)"


def new_session(pool_size: int) -> requests.Session:
    """A session that reads no environment per request (see above) and never retries on
    its own."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


class Environments:
    """The environment's proxy and CA settings per host, read once each."""

    def __init__(self) -> None:
        self._by_host: dict[tuple[str, str], dict[str, Any]] = {}

    def for_url(self, url: str) -> dict[str, Any]:
        """HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE as they apply to this URL's host.

        A loopback host never goes through a proxy: the request and the key would travel
        in clear to wherever HTTP_PROXY points.
        """
        parts = urlsplit(url)
        host = (parts.scheme, parts.netloc)
        if host not in self._by_host:
            with requests.Session() as reader:  # trust_env: reads the environment
                found = reader.merge_environment_settings(url, {}, None, None, None)
            proxies = found["proxies"]
            if is_loopback(connected_url(url).host or ""):
                proxies = {}
            self._by_host[host] = {"proxies": proxies, "verify": found["verify"]}
        return self._by_host[host]


def json_of(response: requests.Response) -> Any:
    """The body as JSON; None when empty or not JSON (the text stays on the answer)."""
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None
