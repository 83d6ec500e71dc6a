from django.urls import path

from tongban.partners import api

app_name = "partners"
urlpatterns = [
    path("verifications", api.verifications, name="verifications"),
    path("verifications/batch", api.verifications_batch, name="verifications_batch"),
    path("keys", api.published_keys, name="keys"),
    path("openapi.json", api.openapi, name="openapi"),
]
