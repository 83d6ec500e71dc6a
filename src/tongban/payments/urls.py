from django.urls import path

from tongban.payments import views

app_name = "payments"
urlpatterns = [
    path("pay/", views.find, name="find"),
    path("pay/gateway/notify/", views.gateway_notify, name="gateway_notify"),
    path("pay/return/<str:order_id>/", views.payment_return, name="return"),
    path("pay/qr/<str:order_id>/", views.qr, name="qr"),
    path("pay/receipt/<str:order_id>.pdf", views.receipt_pdf, name="receipt"),
    path("pay/<str:number>/", views.document, name="document"),
    path("verify/receipt/", views.verify_receipt, name="verify_receipt"),
]
