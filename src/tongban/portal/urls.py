from django.urls import path

from tongban.portal import account_views as account
from tongban.portal import enterprise_views as enterprise
from tongban.portal import item_views, views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("items/", item_views.items, name="items"),
    path("items/<str:code>/", item_views.item_detail, name="item"),
    path("services/<slug:key>/", item_views.service, name="service"),
    path("login/", account.login_password, name="login"),
    path("login/code/", account.login_code, name="login_code"),
    path("login/code/verify/", account.login_code_verify, name="login_code_verify"),
    path("logout/", account.logout_view, name="logout"),
    path("register/", account.register, name="register"),
    path("register/verify/", account.register_verify, name="register_verify"),
    path("recover/", account.recover, name="recover"),
    path("recover/verify/", account.recover_verify, name="recover_verify"),
    path("me/", account.me, name="me"),
    path("me/identity/", account.identity, name="identity"),
    path("me/sessions/", account.session_list, name="sessions"),
    path("me/sessions/<int:session_id>/revoke/", account.session_revoke, name="session_revoke"),
    path("me/sessions/revoke-others/", account.sessions_revoke_others, name="sessions_revoke_others"),
    path("me/phone/", account.change_phone, name="change_phone"),
    path("me/phone/verify/", account.change_phone_verify, name="change_phone_verify"),
    path("me/password/", account.change_password, name="change_password"),
    path("me/close/", account.close_account, name="close"),
    path("enterprise/", enterprise.index, name="enterprise"),
    path("enterprise/register/", enterprise.register, name="enterprise_register"),
    path("enterprise/act/stop/", enterprise.act_stop, name="enterprise_act_stop"),
    path("enterprise/invitations/", enterprise.invitations, name="enterprise_invitations"),
    path("enterprise/invitations/<int:invitation_id>/accept/", enterprise.invitation_accept,
         name="enterprise_invitation_accept"),
    path("enterprise/invitations/<int:invitation_id>/decline/", enterprise.invitation_decline,
         name="enterprise_invitation_decline"),
    path("enterprise/<int:enterprise_id>/", enterprise.detail, name="enterprise_detail"),
    path("enterprise/<int:enterprise_id>/act/", enterprise.act, name="enterprise_act"),
    path("enterprise/<int:enterprise_id>/agents/<int:agent_id>/revoke/", enterprise.revoke,
         name="enterprise_agent_revoke"),
    path("enterprise/<int:enterprise_id>/invitations/<int:invitation_id>/cancel/", enterprise.invitation_cancel,
         name="enterprise_invitation_cancel"),
]
