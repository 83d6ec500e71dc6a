from django.urls import path

from tongban.sso import federation, views

app_name = "sso"
urlpatterns = [
    path(".well-known/openid-configuration", views.discovery, name="discovery"),
    path("o/jwks/", views.jwks, name="jwks"),
    path("o/authorize/", views.authorize, name="authorize"),
    path("o/authorize/continue/", views.authorize_continue, name="authorize_continue"),
    path("o/authorize/verify/", views.step_up, name="step_up"),
    path("o/authorize/login/", views.reauthenticate, name="reauthenticate"),
    path("o/token/", views.token, name="token"),
    path("o/userinfo/", views.userinfo, name="userinfo"),
    path("o/revoke/", views.revoke, name="revoke"),
    path("o/logout/", views.end_session, name="end_session"),
    path("me/authorizations/", views.authorizations, name="authorizations"),
    path("me/authorizations/<int:consent_id>/revoke/", views.authorization_revoke, name="authorization_revoke"),
    path("login/national/", federation.start, name="national_login"),
    path("login/national/callback/", federation.callback, name="national_callback"),
]
