"""Demo data for `tongban demo`: one real-person check waiting in the review queue, so that the two demo
户政 officers (officer, officer2) can try the four-eyes review at /backoffice/face/.

The images are the real package faces (tongban.face.samples; the card photo is the generator's card photo 1);
the distance is the one the matcher measures between them. Nothing is made without the extra `face`.
"""

from __future__ import annotations

from django.db import transaction

from tongban.face import matcher, samples
from tongban.face.models import CheckStatus, FaceCheck

DEMO_REF = "demo"


def face_demo_ensure() -> FaceCheck | None:
    """One demo check under review (idempotent); None without the extra `face`."""
    if not matcher.available():
        return None
    existing = FaceCheck.objects.filter(subject_ref=DEMO_REF, status=CheckStatus.REVIEW).first()
    if existing is not None:
        return existing
    from tongban.registry.generator.photos import photos

    selfie = samples.jpeg(samples.augment(samples.selfie("astronaut"), "blur", 2), 60)
    card = photos()[0].image
    found, on_card = matcher.analyse(matcher.decode(selfie)), matcher.analyse(matcher.decode(card))
    distance = (matcher.distance(found.encoding, on_card.encoding)
                if found.encoding is not None and on_card.encoding is not None else None)
    with transaction.atomic():
        check = FaceCheck(channel="demo", subject_ref=DEMO_REF, id_type="resident_id", challenge="turn_left",
                          status=CheckStatus.REVIEW, reason="face_review", distance=distance, selfie=selfie,
                          card_photo=card)
        check.save()
    return check
