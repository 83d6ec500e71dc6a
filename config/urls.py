from django.contrib import admin
from django.urls import include, path

from tongban.api import api
from tongban.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", api.urls),
    path("partner/", include("tongban.partners.urls")),
    path("admin/", admin.site.urls),
    path("", include("tongban.face.urls")),  # /me/face/ and /backoffice/face/
    path("backoffice/sso/", include("tongban.sso.backoffice")),
    path("backoffice/payments/", include("tongban.payments.backoffice")),
    path("backoffice/", include("tongban.backoffice.urls")),
    path("", include("tongban.sso.urls")),
    path("", include("tongban.cases.urls")),
    path("", include("tongban.evaluation.urls")),
    path("", include("tongban.payments.urls")),
    path("", include("tongban.portal.urls")),
]

handler404 = "tongban.portal.views.page_not_found"
handler500 = "tongban.portal.views.server_error"
