import pytest

from tongban.registry.interfaces import SourceUnavailable, get_source


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(databases="__all__")
def test_readyz_checks_database_cache_and_every_source(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks == {
        "database": "ok",
        "cache": "ok",
        "source:population": "ok",
        "source:idcard": "ok",
        "source:traffic": "ok",
        "source:exitentry": "ok",
        "source:criminal": "ok",
    }


@pytest.mark.django_db(databases="__all__")
def test_readyz_names_the_failing_source(client, monkeypatch):
    def broken() -> None:
        raise SourceUnavailable("idcard")

    monkeypatch.setattr(get_source("idcard"), "ping", broken)
    response = client.get("/readyz", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["source:idcard"]
    assert body["checks"]["source:population"] == "ok"
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["message"] == "The service is not ready."


@pytest.mark.django_db(databases="__all__")
def test_readyz_names_a_broken_cache(client, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(cache, "get", lambda *a, **k: None)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]
