"""Models shaped like the platform's future citizen records, used by tests/crypto only."""

from __future__ import annotations

from django.db import models

from tongban.crypto.fields import (
    BlindIndexField,
    EncryptedBinaryField,
    EncryptedDateField,
    EncryptedModel,
    EncryptedTextField,
)


class Person(EncryptedModel):
    name = EncryptedTextField("姓名", max_length=50, mask="name")
    id_number = EncryptedTextField("公民身份号码", max_length=18, mask="id_number")
    id_number_bidx = BlindIndexField(source="id_number", normalizer="id_number", unique=True)
    phone = EncryptedTextField("手机号码", max_length=20, mask="phone", null=True, blank=True)
    phone_bidx = BlindIndexField(source="phone", normalizer="phone")
    address = EncryptedTextField("住址", max_length=200, mask="address", null=True, blank=True)
    birth_date = EncryptedDateField("出生日期", null=True, blank=True)
    photo = EncryptedBinaryField("照片", null=True, blank=True)
    level = models.PositiveSmallIntegerField("认证等级", default=1)

    class Meta:
        verbose_name = "测试人员"


class Vehicle(EncryptedModel):
    owner = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="vehicles")
    plate = EncryptedTextField("号牌号码", max_length=16)
    plate_bidx = BlindIndexField(source="plate", normalizer="plate")

    class Meta:
        verbose_name = "测试车辆"
