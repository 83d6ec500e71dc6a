from django.urls import path

from tongban.backoffice import views

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
]
