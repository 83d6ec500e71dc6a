"""One real-person check (实人核验) and, for the middle band, its four-eyes review.

Images are kept only while a check is under review: the matched frame and the card photo, SM4-GCM
encrypted per field (tongban.crypto); both are cleared when the review decides. The distance is kept
for the reviewers and the auditors, never told to a citizen or a partner.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import EncryptedBinaryField, EncryptedModel, EncryptedTextField


class CheckStatus(models.TextChoices):
    ACCEPTED = "accepted", _("通过")
    REFUSED = "refused", _("活体检测未通过")
    REJECTED = "rejected", _("人像不一致")
    REVIEW = "review", _("待人工复核")
    APPROVED = "approved", _("复核通过")
    DENIED = "denied", _("复核不通过")


class FaceCheck(EncryptedModel):
    created_at = models.DateTimeField(_("核验时间"), default=timezone.now, db_index=True)
    channel = models.CharField(_("渠道"), max_length=20)  # portal | partner_api
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    app_id = models.CharField(_("接入应用"), max_length=64, blank=True)
    subject_ref = models.CharField(_("身份引用"), max_length=80)  # the blind-index reference, as in the audit
    id_type = models.CharField(_("证件类型"), max_length=20)
    id_number = EncryptedTextField(_("证件号码"), max_length=32, mask="id_number", null=True,
                                   blank=True)  # review only, like the images
    challenge = models.CharField(_("动作"), max_length=20)
    status = models.CharField(_("状态"), max_length=20, choices=CheckStatus.choices, db_index=True)
    reason = models.CharField(_("原因"), max_length=40, blank=True)
    distance = models.FloatField(_("人像距离"), null=True, blank=True)
    selfie = EncryptedBinaryField(_("现场人像"), null=True, blank=True)  # review only
    card_photo = EncryptedBinaryField(_("证件照片"), null=True, blank=True)  # review only
    first_reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    first_decision = models.CharField(_("初审意见"), max_length=20, blank=True)
    first_at = models.DateTimeField(_("初审时间"), null=True, blank=True)
    second_reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("实人核验")
        verbose_name_plural = _("实人核验")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(second_reviewer__isnull=True) | ~models.Q(second_reviewer=models.F("first_reviewer")),
                name="face_check_four_eyes"),
            # Images only while under review.
            models.CheckConstraint(
                condition=models.Q(status="review") | (models.Q(selfie__isnull=True) & models.Q(card_photo__isnull=True)),
                name="face_check_images_only_in_review"),
        ]
