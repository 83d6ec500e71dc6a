"""Builds the synthetic rows of all four sources as columns, vectorised with numpy, from one seed.

Nothing here touches a database: the same (people, seed, as_of) gives the same rows whichever
database they are written to. Each table is a set of equal-length columns of strings (None for
NULL), in the order of the model's fields, ready for COPY or executemany.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tongban.registry.generator import tables as t
from tongban.registry.generator.dates import DateStrings, add_years, age_at, day_number, from_ymd, ymd
from tongban.registry.interfaces import CardStatus, IssueReason, LicenceStatus, PermitStatus, PersonStatus

# Shares of the population by status (the rest are 正常).
DECEASED_SHARE = 0.007
CANCELLED_SHARE = 0.003
EMIGRATED_SHARE = 0.002
# Children under 16 may hold a card; about this share do.
CHILD_CARD_SHARE = 0.40
# Each card has this chance of being lost and replaced (补领) before its successor is due.
LOST_AND_REPLACED_PER_CARD = 0.03
# Current cards reported lost and not yet replaced; people who let a card lapse.
CURRENT_LOST_SHARE = 0.015
# Chance that a person whose card expired within the last three years has not renewed it yet.
LAPSE_CHANCE = 0.15
HK_MACAO_SHARE = 0.005
SECOND_GENERATION_START = datetime.date(2004, 1, 1)
SECOND_GENERATION_END = datetime.date(2013, 12, 31)
FIRST_GENERATION_START = datetime.date(1985, 1, 1)

# GB 11643 weights: 2^(17-i) mod 11 for i = 0..16.
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_CHECK_CHARS = np.array(list("10X98765432"), dtype=object)  # indexed by (weighted sum mod 11)

# Enumerations are carried as small integer codes and turned into their values at the end.
_PERSON_STATUS_VALUES = np.array(
    [PersonStatus.NORMAL.value, PersonStatus.DECEASED.value, PersonStatus.CANCELLED.value, PersonStatus.EMIGRATED.value],
    dtype=object,
)
_FIRST, _RENEWAL, _REPLACEMENT = 0, 1, 2
_REASON_VALUES = np.array([IssueReason.FIRST.value, IssueReason.RENEWAL.value, IssueReason.REPLACEMENT.value], dtype=object)
_VALID, _LOST, _VOID, _EXPIRED = 0, 1, 2, 3
_CARD_STATUS_VALUES = np.array(
    [CardStatus.VALID.value, CardStatus.LOST.value, CardStatus.VOID.value, CardStatus.EXPIRED.value], dtype=object
)


def check_digits(body: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for 17-digit bodies held as int64."""
    total = np.zeros(body.shape, dtype=np.int64)
    rest = body.copy()
    for i in range(16, -1, -1):
        total += (rest % 10) * _WEIGHTS[i]
        rest //= 10
    return _CHECK_CHARS[total % 11]


@dataclass
class Table:
    name: str  # db_table
    columns: list[str]
    data: list[list[str | None]]  # one list per column

    @property
    def rows(self) -> int:
        return len(self.data[0]) if self.data else 0


@dataclass
class Dataset:
    people: int
    seed: int
    as_of: datetime.date
    tables: dict[str, Table] = field(default_factory=dict)  # db_table -> Table
    counts: dict[str, int] = field(default_factory=dict)


def _pick(rng: np.random.Generator, n: int, weights: np.ndarray | Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _str_table(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


_SMALL_INTS = np.array([str(i) for i in range(1000)], dtype=object)


def _ints(values: np.ndarray) -> list[str | None]:
    """Decimal strings of non-negative integers (a table look-up below 1000)."""
    if values.size and 0 <= values.min() and values.max() < len(_SMALL_INTS):
        return _SMALL_INTS[values].tolist()
    return list(map(str, values.tolist()))


def _unique_redraw(keys: np.ndarray, redraw: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Make int64 keys unique, redrawing the later duplicates (in row order) until none remain."""
    for _ in range(100):
        _, first = np.unique(keys, return_index=True)
        dup = np.ones(keys.shape, dtype=bool)
        dup[first] = False
        if not dup.any():
            return keys
        keys[dup] = redraw(np.flatnonzero(dup))
    raise RuntimeError("could not make keys unique")


class _Builder:
    def __init__(self, people: int, seed: int, as_of: datetime.date, progress: Callable[[str], None]):
        self.n = people
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.as_of = as_of
        self.today = day_number(as_of)
        self.progress = progress
        self.ds = DateStrings()
        self.regions = t.regions()
        self.region_codes = np.array([int(r.code) for r in self.regions], dtype=np.int64)
        self.dataset = Dataset(people, seed, as_of)

    # --- people -------------------------------------------------------------------------------

    def people(self) -> None:
        rng, n = self.rng, self.n
        # Age: census five-year groups, then a uniform day inside the group.
        group = _pick(rng, n, t.AGE_GROUP_SHARES)
        age_days = ((group * 5 + rng.random(n) * 5) * 365.2425).astype(np.int64)
        birth = self.today - age_days - 1
        sex = np.where(rng.random(n) < t.MALE_SHARE, 1, 2).astype(np.int64)
        ethnicity = _pick(rng, n, [w for _, _, w in t.ETHNICITIES])
        province = self._provinces(ethnicity)
        id_region, address_region = self._regions(province, birth)
        body = self._id_bodies(id_region, birth, sex)
        ids = self._id_strings(body)

        surnames, weights, male, female = t.name_tables()
        names = self._han_names(sex, surnames, weights, male, female)

        age = age_at(birth, self.today)
        status = np.zeros(n, dtype=np.int8)  # index into _PERSON_STATUS_VALUES
        # Mortality rises steeply with age; scale it to the census share of deaths on record.
        death_weight = np.exp(0.085 * np.minimum(age, 100))
        deceased = rng.random(n) < death_weight / death_weight.mean() * DECEASED_SHARE
        adult = age >= 18
        u = rng.random(n)
        cancelled = ~deceased & adult & (u < CANCELLED_SHARE / 0.8)
        emigrated = ~deceased & ~cancelled & adult & (u > 1 - EMIGRATED_SHARE / 0.8)
        status[deceased] = 1
        status[cancelled] = 2
        status[emigrated] = 3

        addresses = self._addresses(address_region)
        eth_codes = _str_table([code for code, _, _ in t.ETHNICITIES])[ethnicity]
        region_strings = _str_table([r.code for r in self.regions])
        self.p = {
            "ids": ids, "names": names, "sex": sex, "birth": birth, "age": age, "status_code": status,
            "address_region": address_region,
        }
        self.dataset.tables["population_person"] = Table(
            "population_person",
            ["id_number", "name", "sex", "ethnicity", "birth_date", "region_code", "address", "status"],
            [
                ids.tolist(), names.tolist(), _ints(sex), eth_codes.tolist(), self.ds.iso(birth).tolist(),
                region_strings[address_region].tolist(), addresses.tolist(), _PERSON_STATUS_VALUES[status].tolist(),
            ],
        )
        self.dataset.counts["people"] = n

    def _provinces(self, ethnicity: np.ndarray) -> np.ndarray:
        rng, n = self.rng, len(ethnicity)
        codes = [code for code, _, _, _ in t.PROVINCES]
        province = _pick(rng, n, [w for _, _, _, w in t.PROVINCES])
        u = rng.random(n)
        eth_codes = [code for code, _, _ in t.ETHNICITIES]
        for eth, (home, share) in t.ETHNICITY_HOME.items():
            at_home = (ethnicity == eth_codes.index(eth)) & (u < share)
            province[at_home] = codes.index(home)
        return province

    def _regions(self, province: np.ndarray, birth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The code in the person's number (valid in the birth year) and the current household code."""
        rng, n = self.rng, len(province)
        prov_codes = [code for code, _, _, _ in t.PROVINCES]
        birth_year, _, _ = ymd(birth)
        first_year, last_year = 1900, int(birth_year.max()) + 1
        years = np.arange(first_year, last_year + 1)
        # Provinces created later: people born before hold codes of the province they split from.
        fallback = {"46": "44", "50": "51"}
        id_region = np.empty(n, dtype=np.int64)
        address_region = np.empty(n, dtype=np.int64)
        u_id, u_addr, moved = rng.random(n), rng.random(n), rng.random(n) < 0.10
        year_index = np.clip(birth_year - first_year, 0, len(years) - 1)
        region_province = np.array([r.code[:2] for r in self.regions])
        is_current = np.array([r.current for r in self.regions])
        valid = np.zeros((len(self.regions), len(years)), dtype=bool)
        for i, r in enumerate(self.regions):
            for start, end in r.periods:
                valid[i, max(start, first_year) - first_year : min(end, last_year) - first_year + 1] = True
        for p_index, p_code in enumerate(prov_codes):
            rows = np.flatnonzero(province == p_index)
            if rows.size == 0:
                continue
            own = np.flatnonzero(region_province == p_code)
            spare = np.flatnonzero(region_province == fallback.get(p_code, p_code))
            current = own[is_current[own]]
            # table[y] lists the region indices usable for people born in years[y].
            table = np.zeros((len(years), 400), dtype=np.int64)
            counts = np.zeros(len(years), dtype=np.int64)
            for y_index in range(len(years)):
                usable = own[valid[own, y_index]]
                if usable.size == 0:
                    usable = spare[valid[spare, y_index]]
                counts[y_index] = usable.size
                table[y_index, : usable.size] = usable
            yi = year_index[rows]
            chosen = table[yi, (u_id[rows] * counts[yi]).astype(np.int64)]
            id_region[rows] = chosen
            # Household address: the same county if its code is still current, else (and for the
            # one in ten who moved within the province) a current county of the province.
            keep = is_current[chosen] & (region_province[chosen] == p_code) & ~moved[rows]
            other = current[(u_addr[rows] * len(current)).astype(np.int64)]
            address_region[rows] = np.where(keep, chosen, other)
        return id_region, address_region

    def _id_bodies(self, region: np.ndarray, birth: np.ndarray, sex: np.ndarray) -> np.ndarray:
        rng = self.rng
        y, m, d = ymd(birth)
        prefix = self.region_codes[region] * 10**11 + (y * 10000 + m * 100 + d) * 1000

        def sequence(rows: np.ndarray) -> np.ndarray:
            # Odd order codes for men, even for women (GB 11643); 000 is not used.
            half = rng.integers(0, 500, size=rows.size)
            seq = half * 2 + np.where(sex[rows] == 1, 1, 0)
            seq = np.where(seq == 0, 2, seq)
            return prefix[rows] + seq

        return _unique_redraw(sequence(np.arange(len(region))), sequence)

    def _id_strings(self, body: np.ndarray) -> np.ndarray:
        return np.array(list(map(str, body.tolist())), dtype=object) + check_digits(body)

    def _han_names(
        self, sex: np.ndarray, surnames: list[str], weights: np.ndarray, male: list[str], female: list[str]
    ) -> np.ndarray:
        rng, n = self.rng, len(sex)
        surname = _str_table(surnames)[rng.choice(len(surnames), size=n, p=weights)]
        male_t, female_t = _str_table(male), _str_table(female)
        is_male = sex == 1
        first = np.where(is_male, male_t[rng.integers(0, len(male), n)], female_t[rng.integers(0, len(female), n)])
        second = np.where(is_male, male_t[rng.integers(0, len(male), n)], female_t[rng.integers(0, len(female), n)])
        # About a fifth of given names are one character; a two-character part stands alone.
        single = (rng.random(n) < 0.2) | (np.vectorize(len, otypes=[np.int64])(first) > 1)
        second = np.where(single | (np.vectorize(len, otypes=[np.int64])(second) > 1), "", second)
        return surname + first + second

    def _addresses(self, region: np.ndarray) -> np.ndarray:
        rng, n = self.rng, len(region)
        prefix = _str_table([r.province + r.city + r.county for r in self.regions])[region]
        stems = _str_table(t.street_vocabulary())
        street = stems[rng.integers(0, len(stems), n)] + np.where(rng.random(n) < 0.5, "路", "街")
        numbers = _str_table([f"{i}号" for i in range(1, 400)])
        number = numbers[np.minimum(rng.geometric(0.02, n), 398)]
        buildings = _str_table([f"{i}栋" for i in range(1, 40)])
        units = _str_table([f"{i}单元" for i in range(1, 7)])
        rooms = _str_table([f"{f}{r:02d}室" for f in range(1, 31) for r in range(1, 5)])
        flat = (
            buildings[rng.integers(0, len(buildings), n)]
            + units[rng.integers(0, len(units), n)]
            + rooms[rng.integers(0, len(rooms), n)]
        )
        in_block = rng.random(n) < 0.7
        return prefix + street + number + np.where(in_block, flat, "")

    # --- cards --------------------------------------------------------------------------------

    def cards(self) -> None:
        rng, p, today = self.rng, self.p, self.today
        n = self.n
        age, birth = p["age"], p["birth"]
        holder = (age >= 16) | (rng.random(n) < CHILD_CARD_SHARE)
        who = np.flatnonzero(holder)
        b = birth[who]
        # First application: children at any age so far; others at 16 plus a short delay, or in the
        # first issuance campaign (1985-1990) for people who were adults by then.
        child = age[who] < 16
        age16 = add_years(b, 16)
        delay = (rng.exponential(0.8, who.size) * 365).astype(np.int64)
        first = age16 + delay
        campaign = day_number(FIRST_GENERATION_START) + rng.integers(0, 6 * 365, who.size)
        first = np.maximum(first, campaign)
        child_first = b + (rng.random(who.size) * np.maximum(today - b, 1)).astype(np.int64)
        first = np.where(child, child_first, np.minimum(first, today))
        switch = day_number(SECOND_GENERATION_START) + rng.integers(
            0, day_number(SECOND_GENERATION_END) - day_number(SECOND_GENERATION_START), who.size
        )

        rows_person: list[np.ndarray] = []
        rows_from: list[np.ndarray] = []
        rows_to: list[np.ndarray] = []
        rows_reason: list[np.ndarray] = []
        rows_status: list[np.ndarray] = []
        active = np.arange(who.size)
        start = first
        reason = np.full(who.size, _FIRST, dtype=np.int8)
        for _ in range(40):
            if active.size == 0:
                break
            s = start[active]
            years = _validity_years(age_at(b[active], s))
            end = np.where(years > 0, add_years(s, np.maximum(years, 1)), -(10**9))  # -1e9: 长期
            long_term = years == 0
            # What ends this card: a loss (补领), the second-generation switch, or its expiry.
            horizon = np.where(long_term, today, np.minimum(end, today))
            lost = rng.random(active.size) < LOST_AND_REPLACED_PER_CARD
            lost_at = s + (rng.random(active.size) * np.maximum(horizon - s, 1)).astype(np.int64)
            renew_at = end + rng.integers(-90, 150, active.size)
            first_gen = s < day_number(SECOND_GENERATION_START)
            switch_at = np.maximum(switch[active], s + 30)
            next_start = np.where(long_term, np.iinfo(np.int64).max, renew_at)
            next_reason = np.full(active.size, _RENEWAL, dtype=np.int8)
            use_switch = first_gen & (switch_at < next_start)
            next_start = np.where(use_switch, switch_at, next_start)
            use_lost = lost & (lost_at < next_start) & (lost_at > s)
            next_start = np.where(use_lost, lost_at, next_start)
            next_reason[use_lost] = _REPLACEMENT
            # A card that expired in the last three years may not have been renewed yet.
            lapse = (~use_lost & ~use_switch & ~long_term & (end <= today) & (end > today - 3 * 365)
                     & (rng.random(active.size) < LAPSE_CHANCE))
            continues = (next_start <= today) & ~lapse
            status = np.where(
                continues,
                np.where(~use_lost & ~use_switch & (next_start > end) & ~long_term, _EXPIRED, _VOID),
                np.where(long_term | (end >= today), _VALID, _EXPIRED),
            ).astype(np.int8)
            rows_person.append(who[active])
            rows_from.append(s)
            rows_to.append(np.where(long_term, -(10**9), end))
            rows_reason.append(reason[active])
            rows_status.append(status)
            reason[active] = next_reason
            start = start.copy()
            start[active] = next_start
            active = active[continues]

        person = np.concatenate(rows_person)
        valid_from = np.concatenate(rows_from)
        valid_to = np.concatenate(rows_to)
        issue_reason = np.concatenate(rows_reason)
        card_status = np.concatenate(rows_status)
        order = np.lexsort((valid_from, person))
        person, valid_from, valid_to = person[order], valid_from[order], valid_to[order]
        issue_reason, card_status = issue_reason[order], card_status[order]
        is_current = np.ones(person.size, dtype=bool)
        is_current[:-1] = person[1:] != person[:-1]

        # Current cards: some reported lost; those of the dead, cancelled and emigrated are void.
        current_rows = np.flatnonzero(is_current)
        lose = (card_status[current_rows] == _VALID) & (
            rng.random(current_rows.size) < CURRENT_LOST_SHARE
        )
        card_status[current_rows[lose]] = _LOST
        gone = p["status_code"][person[current_rows]] != 0
        card_status[current_rows[gone]] = _VOID

        photo_count = len(_photo_ids())
        person_photo = rng.integers(1, photo_count + 1, n)
        authority = _str_table([t.issuing_authority(r) for r in self.regions])
        to_strings = self.ds.iso(np.where(valid_to < 0, valid_from, valid_to))
        to_strings[valid_to < 0] = None
        self.cards_current = {
            "person": person[current_rows],
            "from": valid_from[current_rows],
            "to": valid_to[current_rows],
            "status": card_status[current_rows],
        }
        ids, names = p["ids"][person], p["names"][person]
        self.dataset.tables["idcard_card"] = Table(
            "idcard_card",
            ["id", "id_number", "name", "issuing_authority", "valid_from", "valid_to", "issue_reason", "status",
             "photo_id"],
            [
                list(map(str, range(1, person.size + 1))),
                ids.tolist(),
                names.tolist(),
                authority[p["address_region"][person]].tolist(),
                self.ds.iso(valid_from).tolist(),
                to_strings.tolist(),
                _REASON_VALUES[issue_reason].tolist(),
                _CARD_STATUS_VALUES[card_status].tolist(),
                _ints(person_photo[person]),
            ],
        )
        self.dataset.counts["cards"] = int(person.size)
        self.dataset.counts["card_holders"] = int(who.size)

    # --- traffic ------------------------------------------------------------------------------

    def traffic(self) -> None:
        rng, p, today = self.rng, self.p, self.today
        n = self.n
        age, birth = p["age"], p["birth"]
        eligible = (age >= 18) & (p["status_code"] == 0)
        band = np.select([age < 25, age < 60, age < 70], [0.30, 0.58, 0.35], 0.10)
        licensed = eligible & (rng.random(n) < band)
        owner_chance = np.where(licensed, 0.52, 0.04)
        owns = eligible & (rng.random(n) < owner_chance)
        self._licences(np.flatnonzero(licensed), birth, today)
        self._vehicles(np.flatnonzero(owns), birth, today)

    def _licences(self, who: np.ndarray, birth: np.ndarray, today: int) -> None:
        rng, p = self.rng, self.p
        m = who.size
        earliest = np.maximum(add_years(birth[who], 18), day_number(datetime.date(1990, 1, 1)))
        first = earliest + (rng.random(m) * np.maximum(today - earliest, 1)).astype(np.int64)
        # Validity: 6 years, then 10, then 长期 (long-term).
        six, sixteen = add_years(first, 6), add_years(first, 16)
        valid_from = np.select([today < six, today < sixteen], [first, six], sixteen)
        valid_to = np.select([today < six, today < sixteen], [six, sixteen], -1)
        fy, fm, fd = ymd(first)
        ty, _, _ = ymd(np.full(m, today))
        anniversary = from_ymd(ty, fm, fd)
        cycle_start = np.where(anniversary > today, from_ymd(ty - 1, fm, fd), anniversary)
        points = np.where(rng.random(m) < 0.8, 0, np.minimum(rng.geometric(0.25, m), 12))
        status = _str_table([s.value for s in LicenceStatus])[
            _pick(rng, m, [0.965, 0.015, 0.005, 0.015])
        ]
        klass = _str_table([c for c, _ in t.LICENCE_CLASSES])[_pick(rng, m, [w for _, w in t.LICENCE_CLASSES])]
        to_strings = self.ds.iso(np.where(valid_to < 0, valid_from, valid_to))
        to_strings[valid_to < 0] = None
        self.dataset.tables["traffic_licence"] = Table(
            "traffic_licence",
            ["licence_number", "name", "licence_class", "first_issued", "valid_from", "valid_to", "cycle_start",
             "points", "status"],
            [
                p["ids"][who].tolist(), p["names"][who].tolist(), klass.tolist(), self.ds.iso(first).tolist(),
                self.ds.iso(valid_from).tolist(), to_strings.tolist(), self.ds.iso(cycle_start).tolist(),
                _ints(points), status.tolist(),
            ],
        )
        self.dataset.counts["licences"] = m

    def _vehicles(self, owners: np.ndarray, birth: np.ndarray, today: int) -> None:
        rng, p = self.rng, self.p
        per_owner = 1 + _pick(rng, owners.size, [0.88, 0.10, 0.02])
        owner = np.repeat(owners, per_owner)
        m = owner.size
        region = p["address_region"][owner]
        prov_codes = [code for code, _, _, _ in t.PROVINCES]
        abbreviations = _str_table([abbr for _, _, abbr, _ in t.PROVINCES])
        region_province = np.array([prov_codes.index(r.code[:2]) for r in self.regions], dtype=np.int64)
        # City letter: prefectures in code order get A, B, C...; municipalities any of the first ten.
        city_rank = np.zeros(len(self.regions), dtype=np.int64)
        seen: dict[str, list[str]] = {}
        for i, r in enumerate(self.regions):
            if not r.current:
                continue
            prefixes = seen.setdefault(r.code[:2], [])
            if r.code[:4] not in prefixes:
                prefixes.append(r.code[:4])
            city_rank[i] = min(prefixes.index(r.code[:4]), len(t.PLATE_LETTERS) - 1)
        municipal = np.isin(region_province, [prov_codes.index(c) for c in ("11", "12", "31", "50")])
        letters_all = np.array(list(t.PLATE_LETTERS), dtype=object)
        alphabet = np.array(list("0123456789" + t.PLATE_LETTERS), dtype=object)  # 34 symbols
        new_energy = rng.random(m) < 0.15

        def draw(rows: np.ndarray) -> np.ndarray:
            k = rows.size
            letter = np.where(
                municipal[region[rows]], rng.integers(0, 10, k), city_rank[region[rows]]
            )
            # Ordinary plates carry at most two letters among their five characters.
            is_letter = rng.random((k, 5)) < 0.18
            is_letter &= np.cumsum(is_letter, axis=1) <= 2
            digit_or_letter = np.where(is_letter, 10 + rng.integers(0, 24, (k, 5)), rng.integers(0, 10, (k, 5)))
            ne = new_energy[rows]
            # New-energy (small car): D (electric) or F (hybrid), a letter or digit, four digits.
            digit_or_letter[ne, 0] = np.where(rng.random(int(ne.sum())) < 0.7, 10 + 3, 10 + 5)  # D, F
            digit_or_letter[ne, 2:] = rng.integers(0, 10, (int(ne.sum()), 3))
            extra = np.where(ne, rng.integers(0, 10, k), 34)  # 34 = no sixth character
            key = region_province[region[rows]] * 32 + letter
            for c in range(5):
                key = key * 35 + digit_or_letter[:, c]
            return key * 35 + extra

        keys = _unique_redraw(draw(np.arange(m)), draw)
        # Decode keys back to plate strings.
        extra = keys % 35
        rest = keys // 35
        chars = []
        for _ in range(5):
            chars.append(rest % 35)
            rest //= 35
        chars.reverse()
        letter, province = rest % 32, rest // 32
        plate = abbreviations[province] + letters_all[letter]
        for c in chars:
            plate = plate + alphabet[c]
        plate = plate + np.where(extra == 34, "", alphabet[np.minimum(extra, 33)])
        earliest = np.maximum(add_years(birth[owner], 18), today - np.where(new_energy, 8, 20) * 365)
        registered = earliest + (rng.random(m) * np.maximum(today - earliest, 1)).astype(np.int64)
        vtype = _str_table([c for c, _ in t.VEHICLE_TYPES])[_pick(rng, m, [w for _, w in t.VEHICLE_TYPES])]
        # One phone per owner, whatever the number of vehicles.
        phone_prefixes = _str_table(t.PHONE_PREFIXES)
        owner_phone = phone_prefixes[rng.integers(0, len(phone_prefixes), owners.size)] + np.array(
            [f"{x:08d}" for x in rng.integers(0, 10**8, owners.size).tolist()], dtype=object
        )
        phone = np.repeat(owner_phone, per_owner)
        self.dataset.tables["traffic_vehicle"] = Table(
            "traffic_vehicle",
            ["plate", "plate_type", "vehicle_type", "owner_id_number", "owner_name", "owner_phone", "registered_on"],
            [
                plate.tolist(), np.where(new_energy, "52", "02").astype(object).tolist(), vtype.tolist(),
                p["ids"][owner].tolist(), p["names"][owner].tolist(), phone.tolist(), self.ds.iso(registered).tolist(),
            ],
        )
        self.dataset.counts["vehicles"] = m
        self.dataset.counts["vehicle_owners"] = int(owners.size)

    # --- Hong Kong and Macao residents ------------------------------------------------------

    def hk_macao(self) -> None:
        rng, today = self.rng, self.today
        m = max(1, round(self.n * HK_MACAO_SHARE)) if self.n >= 100 else 1
        region = np.where(rng.random(m) < 0.85, "HK", "MO").astype(object)
        group = _pick(rng, m, t.AGE_GROUP_SHARES)
        birth = today - ((group * 5 + rng.random(m) * 5) * 365.2425).astype(np.int64) - 1
        sex = np.where(rng.random(m) < 0.46, 1, 2).astype(np.int64)
        letter = np.where(region == "HK", 0, 1)

        def permit(rows: np.ndarray) -> np.ndarray:
            return letter[rows] * 10**8 + rng.integers(0, 10**8, rows.size)

        permits = _unique_redraw(permit(np.arange(m)), permit)
        permit_str = np.where(letter == 0, "H", "M").astype(object) + np.array(
            [f"{x % 10**8:08d}" for x in permits.tolist()], dtype=object
        )
        issue_count = rng.integers(0, 6, m)

        # 港澳居民居住证 (since 2018): 810000 / 820000, the birth date, an order code, GB 11643 check.
        has_rp = rng.random(m) < 0.4
        y, mo, d = ymd(birth)
        rp_prefix = np.where(letter == 0, 810000, 820000) * 10**11 + (y * 10000 + mo * 100 + d) * 1000

        def rp_body(rows: np.ndarray) -> np.ndarray:
            seq = rng.integers(0, 500, rows.size) * 2 + np.where(sex[rows] == 1, 1, 0)
            return rp_prefix[rows] + np.where(seq == 0, 2, seq)

        rp = _unique_redraw(rp_body(np.arange(m)), rp_body)
        rp_str = (np.array(list(map(str, rp.tolist())), dtype=object) + check_digits(rp)).astype(object)
        rp_str[~has_rp] = None

        sur = _pick(rng, m, [w for *_, w in t.HK_SURNAMES])
        sur_zh = _str_table([s[0] for s in t.HK_SURNAMES])[sur]
        sur_en = np.where(
            region == "HK", _str_table([s[1] for s in t.HK_SURNAMES])[sur], _str_table([s[2] for s in t.HK_SURNAMES])[sur]
        )
        is_male = sex == 1
        male_zh, male_en = _str_table([c for c, _ in t.HK_GIVEN_MALE]), _str_table([r for _, r in t.HK_GIVEN_MALE])
        fem_zh, fem_en = _str_table([c for c, _ in t.HK_GIVEN_FEMALE]), _str_table([r for _, r in t.HK_GIVEN_FEMALE])
        g1m, g2m = rng.integers(0, len(male_zh), m), rng.integers(0, len(male_zh), m)
        g1f, g2f = rng.integers(0, len(fem_zh), m), rng.integers(0, len(fem_zh), m)
        g1_zh = np.where(is_male, male_zh[g1m], fem_zh[g1f])
        g2_zh = np.where(is_male, male_zh[g2m], fem_zh[g2f])
        g1_en = np.where(is_male, male_en[g1m], fem_en[g1f])
        g2_en = np.where(is_male, male_en[g2m], fem_en[g2f])
        name_zh = sur_zh + g1_zh + g2_zh
        name_en = np.array(
            [f"{s} {a.capitalize()} {b.capitalize()}" for s, a, b in zip(sur_en, g1_en, g2_en, strict=True)],
            dtype=object,
        )

        # Validity: 10 years if 18 or over when issued, else 5; a few lapsed (not renewed yet).
        span = np.where(age_at(birth, today) >= 19, 10, 5) * 365
        back = (rng.random(m) * (span - 30)).astype(np.int64)
        lapsed = rng.random(m) < 0.04
        back = np.where(lapsed, span + rng.integers(1, 700, m), back)
        valid_from = np.maximum(today - back, birth + 30)
        period = np.where(age_at(birth, valid_from) >= 18, 10, 5)
        valid_to = add_years(valid_from, period)
        status = np.where(valid_to < today, PermitStatus.EXPIRED.value, PermitStatus.VALID.value).astype(object)
        status[rng.random(m) < 0.01] = PermitStatus.VOID.value
        self.dataset.tables["exitentry_permit"] = Table(
            "exitentry_permit",
            ["permit_number", "issue_count", "residence_permit_number", "region", "name_zh", "name_en", "sex",
             "birth_date", "valid_from", "valid_to", "status"],
            [
                permit_str.tolist(), _ints(issue_count), rp_str.tolist(), region.tolist(), name_zh.tolist(),
                name_en.tolist(), _ints(sex), self.ds.iso(birth).tolist(), self.ds.iso(valid_from).tolist(),
                self.ds.iso(valid_to).tolist(), status.tolist(),
            ],
        )
        self.dataset.counts["hk_macao"] = m


    # --- criminal records -------------------------------------------------------------------------

    OFFENCES = (("危险驾驶罪", 0.30, "拘役二个月"), ("盗窃罪", 0.22, "有期徒刑一年"), ("诈骗罪", 0.12, "有期徒刑三年"),
                ("故意伤害罪", 0.10, "有期徒刑二年"), ("交通肇事罪", 0.08, "有期徒刑一年，缓刑一年"),
                ("帮助信息网络犯罪活动罪", 0.08, "有期徒刑八个月"), ("寻衅滋事罪", 0.06, "有期徒刑一年六个月"),
                ("开设赌场罪", 0.04, "有期徒刑二年"))

    def criminal(self) -> None:
        """About 1 % of adults (five in six of them men) with one judgment, 6 % of those with a second; a
        generator of its own (seeded from the seed) so the other sources' rows stay what they were."""
        rng = np.random.default_rng((self.seed, 19))
        p, today = self.p, self.today
        adult = p["age"] >= 18
        chance = np.where(p["sex"] == 1, 0.0167, 0.0033)
        who = np.flatnonzero(adult & (rng.random(self.n) < chance))
        who = np.concatenate([who, who[rng.random(who.size) < 0.06]])
        m = who.size
        earliest = add_years(p["birth"][who], 18)
        judged = earliest + (rng.random(m) * np.maximum(today - earliest, 1)).astype(np.int64)
        offence = _pick(rng, m, [w for _, w, _ in self.OFFENCES])
        regions = [r for r in self.regions if r.periods[-1][1] == 9999]
        court_of = _str_table([f"{r.city or r.province}{r.county}人民法院" for r in regions])
        region_index = {r.code: i for i, r in enumerate(regions)}
        home = [region_index.get(self.regions[i].code, 0) for i in p["address_region"][who].tolist()]
        self.dataset.tables["criminal_record"] = Table(
            "criminal_record",
            ["id_number", "name", "offence", "court", "judged_on", "sentence"],
            [
                p["ids"][who].tolist(), p["names"][who].tolist(),
                _str_table([o for o, _, _ in self.OFFENCES])[offence].tolist(),
                court_of[np.array(home, dtype=np.int64)].tolist() if m else [],
                self.ds.iso(judged).tolist(), _str_table([s for _, _, s in self.OFFENCES])[offence].tolist(),
            ],
        )
        self.dataset.counts["criminal_records"] = m


def _validity_years(age: np.ndarray) -> np.ndarray:
    """The age rule: under 16: 5 years; 16-25: 10; 26-45: 20; 46 and over: 0 meaning 长期."""
    return np.select([age < 16, age <= 25, age <= 45], [5, 10, 20], 0)


def _photo_ids() -> list[int]:
    from tongban.registry.generator.photos import photos

    return [photo.id for photo in photos()]


def build_dataset(
    people: int, seed: int, as_of: datetime.date, progress: Callable[[str], None] | None = None
) -> Dataset:
    """All five sources' rows for `people` citizens (plus 0.5 % Hong Kong and Macao residents)."""
    report = progress or (lambda _phase: None)
    builder = _Builder(people, seed, as_of, report)
    report("people")
    builder.people()
    report("cards")
    builder.cards()
    report("traffic")
    builder.traffic()
    report("hk_macao")
    builder.hk_macao()
    report("criminal")
    builder.criminal()
    return builder.dataset
