from django.urls import path

from tongban.face import views

app_name = "face"
urlpatterns = [
    path("me/face/", views.camera, name="camera"),
    path("me/face/challenge/", views.challenge, name="challenge"),
    path("me/face/check/", views.check, name="check"),
    path("backoffice/face/", views.review_list, name="review_list"),
    path("backoffice/face/<int:check_id>/", views.review_detail, name="review_detail"),
    path("backoffice/face/<int:check_id>/<str:which>.jpg", views.review_image, name="review_image"),
]
