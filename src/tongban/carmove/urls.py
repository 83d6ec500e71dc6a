from django.urls import path

from tongban.carmove import views

app_name = "carmove"
urlpatterns = [
    path("carmove/", views.start, name="start"),
    path("carmove/<int:pk>/", views.detail, name="detail"),
    path("carmove/<int:pk>/nudge/", views.nudge, name="nudge"),
    path("carmove/<int:pk>/confirm/", views.confirm, name="confirm"),
    path("carmove/r/<str:token>/", views.reply_by_link, name="reply"),
    path("carmove/owner/<int:pk>/", views.reply_in_account, name="owner"),
    path("carmove/photos/<int:photo_id>/", views.photo, name="photo"),
]
