"""A scripted browser for live-server tests (requests with a cookie jar): follows redirects across
tongban and the simulators, fills tongban's login and consent forms as a person would."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.sso.conftest import PASSWORD


def csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, html[:500]
    return match.group(1)


class Browser:
    def __init__(self) -> None:
        self.http = requests.Session()

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.http.get(url, timeout=15, **kwargs)

    def post(self, url: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        return self.http.post(url, data=data, timeout=15, headers={"Referer": url}, **kwargs)

    def login_if_asked(self, response: requests.Response, *, phone: str, password: str = PASSWORD) -> requests.Response:
        if "/login/" in response.url and 'name="password"' in response.text:
            nxt = hidden(response.text, "next")
            response = self.post(response.url.split("?")[0], {
                "csrfmiddlewaretoken": csrf(response.text), "username": phone, "password": password, "next": nxt})
        return response

    def consent_if_asked(self, response: requests.Response, decision: str = "allow", *, follow: bool = True
                         ) -> requests.Response:
        if 'name="decision"' in response.text and "授权确认" in response.text:
            response = self.post(response.url.split("?")[0], {
                "csrfmiddlewaretoken": csrf(response.text), "txn": hidden(response.text, "txn"), "decision": decision},
                allow_redirects=follow)
        return response

    def sign_in_through(self, start_url: str, *, phone: str, password: str = PASSWORD) -> requests.Response:
        """Start at a relying party's login URL, sign in at tongban, consent, land back at the party."""
        response = self.get(start_url)
        response = self.login_if_asked(response, phone=phone, password=password)
        return self.consent_if_asked(response)

    def logout_at_tongban(self, base: str) -> requests.Response:
        page = self.get(f"{base}/me/")
        return self.post(f"{base}/logout/", {"csrfmiddlewaretoken": csrf(page.text)})
