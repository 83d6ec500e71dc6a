"""Real-person verification (实人, L3): time per verification on one core, and the error rates at the thresholds.

    .venv/bin/python bench/face.py            # needs the extra `face` (make install installs it)

Everything is built offline from the real faces that ship in packages (tongban.face.samples): the two
portraits on the generator's cards 1 and 2 (skimage's astronaut, matplotlib's Grace Hopper) and the 100
Labeled-Faces-in-the-Wild faces of skimage's lfw_subset (cards 3–102).

* Same person: each portrait's selfie, augmented (crop, rotate, light, blur, JPEG quality), against the
  person's own card photo: a false reject is a genuine attempt not accepted (and, stricter, one rejected).
* Other people: every augmented selfie against the 101 other card photos: a false accept is an accepted
  impostor (and, looser, one sent to review).
* Replays: a printed photo held up (the same frame throughout, also augmented) against either challenge;
  and genuine head-turn bursts, to show the challenge's own false-reject rate.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).resolve().parents[1])]

from bench._common import machine_line  # noqa: E402
from tongban.face import liveness, matcher, samples  # noqa: E402
from tongban.face.liveness import Challenge, Rules  # noqa: E402

AUGMENTATIONS = [("none", 0)] + [("crop", v) for v in (0.9, 0.8)] + [("rotate", v) for v in (-10, -5, 5, 10)] + \
    [("light", v) for v in (0.5, 0.7, 1.3, 1.6)] + [("blur", v) for v in (1, 2, 3)] + \
    [("jpeg", v) for v in (15, 30, 60)]
PORTRAITS = {"astronaut": 1, "grace_hopper": 2}


def main() -> None:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    if not matcher.available():
        sys.exit("the optional extra `face` is not installed: pip install -e '.[face]'")
    from tongban.registry.generator.photos import photos

    print(f"machine: {machine_line()}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    start = time.perf_counter()
    matcher.load()
    print(f"models loaded once per process in {time.perf_counter() - start:.2f} s")
    rules = Rules()
    cards = {p.id: matcher.analyse(matcher.decode(p.image)) for p in photos()}
    cards = {pid: facts for pid, facts in cards.items() if facts.encoding is not None}
    print(f"card photos with a face found: {len(cards)} of {len(photos())}")

    # -- time per verification: 8 frames (detect + 5 landmarks each, 2 encodings) + the card photo + judge ------
    burst = [samples.jpeg(f) for f in samples.head_turn_burst("astronaut", direction="turn_left", frames=8)]
    card_jpeg = photos()[0].image
    times = []
    for _ in range(7):
        t = time.perf_counter()
        facts = liveness.burst_facts(burst)
        card = matcher.analyse(matcher.decode(card_jpeg))
        verdict = liveness.judge(facts, card, Challenge.TURN_LEFT, rules)
        times.append(time.perf_counter() - t)
    assert verdict.decision == "accept", verdict
    single = samples.selfie("astronaut")
    t = time.perf_counter()
    for _ in range(5):
        matcher.analyse(matcher.decode(samples.jpeg(single)), encode=False)
    detect_ms = (time.perf_counter() - t) / 5 * 1000
    facts0 = matcher.analyse(matcher.decode(samples.jpeg(single)), encode=False)
    pixels = matcher.decode(samples.jpeg(single))
    t = time.perf_counter()
    for _ in range(5):
        matcher.encode(pixels, facts0)
    encode_ms = (time.perf_counter() - t) / 5 * 1000
    print(f"\none verification (8 frames at 480 px, card photo, judge), one core: median "
          f"{statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms "
          f"(decode + detect + 5 landmarks {detect_ms:.0f} ms a frame; 128-d encoding {encode_ms:.0f} ms)")

    # -- same person / other people ------------------------------------------------------------------------
    genuine: list[float] = []
    impostor: list[float] = []
    not_found = 0
    for name, card_id in PORTRAITS.items():
        base = samples.selfie(name)
        for kind, level in AUGMENTATIONS:
            image = base if kind == "none" else samples.augment(base, kind, level)
            found = matcher.analyse(matcher.decode(samples.jpeg(image, 90)))
            if found.encoding is None:
                not_found += 1
                continue
            genuine.append(matcher.distance(found.encoding, cards[card_id].encoding))  # type: ignore[arg-type]
            impostor.extend(matcher.distance(found.encoding, c.encoding)  # type: ignore[arg-type]
                            for pid, c in cards.items() if pid != card_id)

    def share(values: list[float], test) -> str:
        hits = sum(1 for v in values if test(v))
        return f"{hits}/{len(values)} = {100 * hits / len(values):.2f} %" if values else "-"

    a, r = rules.accept_max, rules.review_max
    print(f"\nsame person: {len(genuine)} augmented selfies ({not_found} without a face found) vs own card photo; "
          f"distance min {min(genuine):.3f} median {statistics.median(genuine):.3f} max {max(genuine):.3f}")
    print(f"  false reject (not accepted, distance > {a}):      {share(genuine, lambda v: v > a)}")
    print(f"  rejected outright (distance > {r}):               {share(genuine, lambda v: v > r)}")
    print(f"other people: {len(impostor)} pairs; distance min {min(impostor):.3f} median "
          f"{statistics.median(impostor):.3f}")
    print(f"  false accept (distance <= {a}):                   {share(impostor, lambda v: v <= a)}")
    print(f"  sent to review ({a} < distance <= {r}):           {share(impostor, lambda v: a < v <= r)}")
    for threshold in (0.35, 0.40, 0.45, 0.50, 0.55, 0.60):
        print(f"    at {threshold:.2f}: FRR {share(genuine, lambda v, t=threshold: v > t):>18}   "
              f"FAR {share(impostor, lambda v, t=threshold: v <= t)}")

    # -- liveness: printed-photo replays and genuine turns ----------------------------------------------------
    replay_pass = replay_total = 0
    turn_pass = turn_total = 0
    for name, card_id in PORTRAITS.items():
        for kind, level in (("none", 0), ("light", 0.7), ("blur", 1), ("jpeg", 30), ("rotate", 5)):
            still = samples.selfie(name) if kind == "none" else samples.augment(samples.selfie(name), kind, level)
            frames = [samples.jpeg(still)] * 8
            facts = liveness.burst_facts(frames)
            for challenge in Challenge:
                replay_total += 1
                replay_pass += liveness.judge(facts, cards[card_id], challenge, rules).decision == "accept"
        for challenge in Challenge:
            frames = [samples.jpeg(f) for f in samples.head_turn_burst(name, direction=challenge.value)]
            facts = liveness.burst_facts(frames)
            turn_total += 2
            turn_pass += liveness.judge(facts, cards[card_id], challenge, rules).decision == "accept"
            other = Challenge.TURN_RIGHT if challenge is Challenge.TURN_LEFT else Challenge.TURN_LEFT
            turn_pass += liveness.judge(facts, cards[card_id], other, rules).decision != "accept"  # must refuse
    print(f"\nprinted-photo replays (no head turn) accepted: {replay_pass}/{replay_total}")
    print(f"head-turn bursts judged right (accepted for the asked turn, refused for the other): "
          f"{turn_pass}/{turn_total}")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
