from django.urls import path

from tongban.backoffice import views
from tongban.catalog import views as catalog_views
from tongban.partners import views as partner_views

app_name = "backoffice"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_password, name="login"),
    path("login/totp/", views.login_totp, name="login_totp"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/<str:username>/", views.staff_detail, name="staff_detail"),
    path("staff/<str:username>/unlock/", views.staff_unlock, name="staff_unlock"),
    path("partners/stats/", partner_views.stats, name="partner_stats"),
    path("partners/alerts/", partner_views.alerts, name="partner_alerts"),
    path("partners/alerts/<int:pk>/ack/", partner_views.alert_ack, name="partner_alert_ack"),
    path("catalog/", catalog_views.catalog_list, name="catalog_list"),
    path("catalog/import/", catalog_views.catalog_import, name="catalog_import"),
    path("catalog/export.<str:fmt>", catalog_views.catalog_export, name="catalog_export"),
    path("catalog/items/<str:code>/", catalog_views.catalog_item, name="catalog_item"),
    path("catalog/items/<str:code>/new/", catalog_views.catalog_draft_new, name="catalog_draft_new"),
    path("catalog/items/<str:code>/v<int:number>/", catalog_views.catalog_version, name="catalog_version"),
    path("catalog/items/<str:code>/v<int:number>/edit/", catalog_views.catalog_edit, name="catalog_edit"),
    path("catalog/items/<str:code>/v<int:number>/<str:action>/", catalog_views.catalog_transition,
         name="catalog_transition"),
]
