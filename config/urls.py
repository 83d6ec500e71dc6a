from django.contrib import admin
from django.urls import include, path

from tongban.api import api
from tongban.core import views as core_views
from tongban.exchange import urls as exchange_urls

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/<str:code>/", core_views.language_set, name="language_set"),  # the header's language switch
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", api.urls),
    path("partner/", include("tongban.partners.urls")),
    path("admin/", admin.site.urls),
    path("", include("tongban.face.urls")),  # /me/face/ and /backoffice/face/
    path("backoffice/sso/", include("tongban.sso.backoffice")),
    path("backoffice/payments/", include("tongban.payments.backoffice")),
    path("backoffice/exams/", include("tongban.exams.backoffice")),
    path("backoffice/carmove/", include("tongban.carmove.backoffice")),
    path("backoffice/exchange/", include(exchange_urls.backoffice)),
    path("backoffice/", include("tongban.backoffice.urls")),
    path("", include("tongban.sso.urls")),
    path("", include("tongban.cases.urls")),
    path("", include("tongban.evaluation.urls")),
    path("", include("tongban.payments.urls")),
    path("", include("tongban.exams.urls")),
    path("", include("tongban.violations.urls")),
    path("", include("tongban.carmove.urls")),
    path("", include("tongban.exchange.urls")),
    path("", include("tongban.portal.urls")),
]

handler404 = "tongban.portal.views.page_not_found"
handler500 = "tongban.portal.views.server_error"
