"""A scripted browser for live-server tests (requests with a cookie jar): follows redirects across
tongban and the simulators, fills tongban's login and consent forms as a person would."""

from __future__ import annotations

import html
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

    def follow_refresh(self, response: requests.Response) -> requests.Response:
        refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', response.text)
        return self.get(html.unescape(refresh.group(1))) if refresh else response

    def sign_in_through(self, start_url: str, *, phone: str, password: str = PASSWORD) -> requests.Response:
        """Start at a relying party's login URL, sign in at tongban, consent, land back at the party."""
        response = self.follow_refresh(self.get(start_url))
        response = self.follow_refresh(self.login_if_asked(response, phone=phone, password=password))
        return self.follow_refresh(self.consent_if_asked(response))

    def logout_at_tongban(self, base: str) -> requests.Response:
        page = self.get(f"{base}/me/")
        return self.post(f"{base}/logout/", {"csrfmiddlewaretoken": csrf(page.text)})

    def authorize(self, url: str, *, phone: str, password: str = PASSWORD) -> str:
        """Go to tongban's authorization URL as this browser, sign in and consent if asked, and return
        the URL tongban sends the browser back to (the relying party's callback, not fetched)."""
        base = url.split("/o/authorize")[0]
        response = self.get(url, allow_redirects=False)
        for _ in range(12):
            if response.status_code in (301, 302):
                location = response.headers["Location"]
                if location.startswith("/"):
                    location = base + location
                if not location.startswith(base):
                    return location
                response = self.get(location, allow_redirects=False)
                continue
            text = response.text
            refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', text)
            if refresh:
                return html.unescape(refresh.group(1))
            if 'name="password"' in text and "/login/" in response.url:
                response = self.post(response.url.split("?")[0], {
                    "csrfmiddlewaretoken": csrf(text), "username": phone, "password": password,
                    "next": hidden(text, "next")}, allow_redirects=False)
            elif 'name="decision"' in text and "授权确认" in text:
                response = self.post(response.url.split("?")[0], {
                    "csrfmiddlewaretoken": csrf(text), "txn": hidden(text, "txn"), "decision": "allow"},
                    allow_redirects=False)
            else:
                raise AssertionError(f"stuck at {response.url}: {text[:300]}")
        raise AssertionError("too many redirects")
