from django.urls import path

from tongban.violations import views

app_name = "violations"
urlpatterns = [
    path("violations/", views.index, name="index"),
    path("violations/vehicles/", views.vehicle_register, name="vehicle_register"),
    path("violations/vehicles/<int:registration_id>/decide/", views.vehicle_decide, name="vehicle_decide"),
    path("violations/vehicles/<int:registration_id>/remove/", views.vehicle_remove, name="vehicle_remove"),
    path("violations/decision/<str:number>/", views.decision, name="decision"),
    path("violations/<str:number>/", views.detail, name="detail"),
]
