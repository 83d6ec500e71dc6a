from django.urls import path

from tongban.exchange import views

app_name = "exchange"
urlpatterns = [path("exchange/inbound/", views.inbound, name="inbound")]

backoffice = ([
    path("", views.home, name="home"),
    path("messages/<int:message_id>/", views.message_detail, name="message"),
    path("messages/<int:message_id>/replay/", views.message_replay, name="replay"),
    path("messages/<int:message_id>/discard/", views.message_discard, name="discard"),
], "exchange_bo")
