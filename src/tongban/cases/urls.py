from django.urls import path

from tongban.cases import views

app_name = "cases"
urlpatterns = [
    path("apply/<str:code>/", views.apply_start, name="apply"),
    path("me/cases/", views.my_cases, name="mine"),
    path("me/cases/<int:case_id>/", views.detail, name="detail"),
    path("me/cases/<int:case_id>/edit/", views.edit, name="edit"),
    path("me/cases/<int:case_id>/review/", views.review, name="review"),
    path("me/cases/<int:case_id>/withdraw/", views.withdraw, name="withdraw"),
    path("me/cases/<int:case_id>/materials/<int:attachment_id>/", views.material, name="material"),
    path("me/cases/<int:case_id>/result.pdf", views.result_pdf, name="result_pdf"),
    path("me/messages/", views.my_messages, name="messages"),
    path("verify/result/", views.verify_result, name="verify_result"),
    path("cases/ems/callback/", views.ems_callback, name="ems_callback"),
]
