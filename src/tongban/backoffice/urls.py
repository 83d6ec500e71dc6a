from django.urls import path

from tongban.backoffice import case_views, staff_views, views
from tongban.catalog import views as catalog_views
from tongban.evaluation import views as evaluation_views
from tongban.partners import views as partner_views
from tongban.risk import views as risk_views

app_name = "backoffice"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_password, name="login"),
    path("login/totp/", views.login_totp, name="login_totp"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password"),
    path("staff/", staff_views.staff_list, name="staff_list"),
    path("staff-create/", staff_views.staff_create, name="staff_create"),
    path("staff/<str:username>/", staff_views.staff_detail, name="staff_detail"),
    path("staff/<str:username>/unlock/", staff_views.staff_unlock, name="staff_unlock"),
    path("staff/<str:username>/roles/", staff_views.staff_roles, name="staff_roles"),
    path("staff/<str:username>/<str:action>/", staff_views.staff_action, name="staff_action"),
    path("cases/", case_views.inbox, name="inbox"),
    path("cases/bulk-accept/", case_views.bulk_accept, name="bulk_accept"),
    path("cases/stats/", case_views.statistics, name="case_stats"),
    path("cases/<int:case_id>/", case_views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/act/", case_views.case_act, name="case_act"),
    path("cases/<int:case_id>/assign/", case_views.case_assign, name="case_assign"),
    path("cases/<int:case_id>/comment/", case_views.case_comment, name="case_comment"),
    path("cases/<int:case_id>/materials/<int:attachment_id>/", case_views.case_material, name="case_material"),
    path("partners/stats/", partner_views.stats, name="partner_stats"),
    path("partners/alerts/", partner_views.alerts, name="partner_alerts"),
    path("partners/alerts/<int:pk>/ack/", partner_views.alert_ack, name="partner_alert_ack"),
    path("risk/", risk_views.console, name="risk_console"),
    path("risk/blocks/<int:pk>/lift/", risk_views.block_lift, name="risk_block_lift"),
    path("risk/alerts/<int:pk>/ack/", risk_views.alert_ack, name="risk_alert_ack"),
    path("risk/alerts/<int:pk>/incident/", risk_views.incident_open, name="risk_incident_open"),
    path("risk/incidents/<int:pk>/advance/", risk_views.incident_advance, name="risk_incident_advance"),
    path("catalog/", catalog_views.catalog_list, name="catalog_list"),
    path("catalog/import/", catalog_views.catalog_import, name="catalog_import"),
    path("catalog/export.<str:fmt>", catalog_views.catalog_export, name="catalog_export"),
    path("catalog/items/<str:code>/", catalog_views.catalog_item, name="catalog_item"),
    path("catalog/items/<str:code>/new/", catalog_views.catalog_draft_new, name="catalog_draft_new"),
    path("catalog/items/<str:code>/v<int:number>/", catalog_views.catalog_version, name="catalog_version"),
    path("catalog/items/<str:code>/v<int:number>/edit/", catalog_views.catalog_edit, name="catalog_edit"),
    path("catalog/items/<str:code>/v<int:number>/<str:action>/", catalog_views.catalog_transition,
         name="catalog_transition"),
    path("evaluation/", evaluation_views.review_list, name="evaluation_list"),
    path("evaluation/stats/", evaluation_views.stats, name="evaluation_stats"),
    path("evaluation/reviews/<int:review_id>/", evaluation_views.review_detail, name="evaluation_review"),
]
