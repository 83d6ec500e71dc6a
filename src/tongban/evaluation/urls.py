from django.urls import path

from tongban.evaluation import views

app_name = "evaluation"
urlpatterns = [
    path("me/cases/<int:case_id>/rate/", views.rate, name="rate"),
    path("rate/<int:case_id>/<str:token>/", views.rate_by_link, name="rate_by_link"),
    path("evaluation/", views.figures_public, name="figures"),
]
