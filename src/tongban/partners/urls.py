from django.urls import path, re_path

from tongban.partners import api, face_api

app_name = "partners"
urlpatterns = [
    path("v1/verifications", api.verifications, name="verifications"),
    path("v1/verifications/batch", api.verifications_batch, name="verifications_batch"),
    path("v1/face/challenges", face_api.face_challenges, name="face_challenges"),
    path("v1/face/verifications", face_api.face_verifications, name="face_verifications"),
    path("v1/keys", api.published_keys, name="keys"),
    path("v1/openapi.json", api.openapi, name="openapi"),
    # Every other path under /partner/ is a signed 404 (docs/partner-api.md §6: every answer is signed).
    re_path(r"^(?P<rest>.*)$", api.not_found, name="not_found"),
]
