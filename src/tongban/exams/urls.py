from django.urls import path

from tongban.exams import views

app_name = "exams"
urlpatterns = [
    path("exams/", views.index, name="index"),
    path("exams/book/<str:subject>/", views.book, name="book"),
    path("exams/bookings/<int:booking_id>/cancel/", views.cancel, name="cancel"),
    path("exams/bookings/<int:booking_id>/pay/", views.pay, name="pay"),
]
