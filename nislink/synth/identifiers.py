"""Generators of valid UK identifiers: National Insurance numbers, UPNs and postcodes.

Every generator is vectorised over a NumPy ``Generator`` and returns values that pass the
matching :mod:`nislink.clean` validator (tested in ``tests/test_synth_identifiers.py``).
"""

from __future__ import annotations

import string

import numpy as np

from nislink.clean.ids import upn_check_letter

__all__ = [
    "NINO_FIRST",
    "NINO_SECOND",
    "NINO_BAD_PREFIXES",
    "POSTCODE_INWARD_LETTERS",
    "nino_prefixes",
    "generate_ninos",
    "generate_upns",
    "generate_postcodes",
]

#: HMRC NIM39110: first letter not D, F, I, Q, U or V.
NINO_FIRST = "".join(c for c in string.ascii_uppercase if c not in "DFIQUV")
#: HMRC NIM39110: second letter not D, F, I, O, Q, U or V.
NINO_SECOND = "".join(c for c in string.ascii_uppercase if c not in "DFIOQUV")
#: Prefixes never allocated (NIM39110), and prefixes used only for administrative numbers
#: that are not NINOs (CR, FY, MW, NC, OO, PP, PY, PZ; see ``nislink.clean.ids``).
NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ",
                               "CR", "FY", "MW", "NC", "OO", "PP", "PY", "PZ"})
#: Letters allowed in the inward code's unit (not C, I, K, M, O or V).
POSTCODE_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def nino_prefixes() -> np.ndarray:
    """All allocatable two-letter NINO prefixes, sorted."""
    out = [a + b for a in NINO_FIRST for b in NINO_SECOND if a + b not in NINO_BAD_PREFIXES]
    return np.array(sorted(out))


def _unique_codes(rng: np.random.Generator, n: int, draw, what: str) -> np.ndarray:
    """Draw ``n`` distinct integer codes with ``draw(rng, k)``, redrawing collisions."""
    codes = draw(rng, n)
    for _ in range(100):
        _, first = np.unique(codes, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        k = int(dup.sum())
        if k == 0:
            return codes
        codes[dup] = draw(rng, k)
    raise RuntimeError(f"could not draw {n} distinct {what}s")


def generate_ninos(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct, format-valid National Insurance numbers like ``"AB123456C"``."""
    prefixes = nino_prefixes()
    n_pref = len(prefixes)

    def draw(r: np.random.Generator, k: int) -> np.ndarray:
        p = r.integers(0, n_pref, size=k, dtype=np.int64)
        d = r.integers(0, 1_000_000, size=k, dtype=np.int64)
        s = r.integers(0, 4, size=k, dtype=np.int64)
        return (p * 1_000_000 + d) * 4 + s

    codes = _unique_codes(rng, n, draw, "NINO")
    s = codes % 4
    rest = codes // 4
    d = rest % 1_000_000
    p = rest // 1_000_000
    suffix = "ABCD"
    return np.array([f"{prefixes[a]}{b:06d}{suffix[c]}"
                     for a, b, c in zip(p.tolist(), d.tolist(), s.tolist())], dtype=object)


def generate_upns(
    rng: np.random.Generator, la_codes: np.ndarray, birth_years: np.ndarray
) -> np.ndarray:
    """Distinct UPNs: check letter + LA number + establishment + year of entry + serial.

    The check letter comes from :func:`nislink.clean.ids.upn_check_letter`; the LA number is
    the DfE number of ``la_codes``; the year is the (two-digit) year the child would have
    started school (birth year + 5).
    """

    n = len(la_codes)
    la = np.asarray(la_codes, dtype=np.int64)
    yy = (np.asarray(birth_years, dtype=np.int64) + 5) % 100

    def draw(r: np.random.Generator, k: int) -> np.ndarray:
        est = r.integers(2000, 6000, size=k, dtype=np.int64)
        serial = r.integers(0, 1000, size=k, dtype=np.int64)
        return est * 1000 + serial

    # uniqueness must hold for the whole 12 characters: fold LA and year into the key
    base = la * 100 + yy
    codes = draw(rng, n)
    for _ in range(100):
        key = base * 10_000_000 + codes
        _, first = np.unique(key, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        k = int(dup.sum())
        if k == 0:
            break
        codes[dup] = draw(rng, k)
    else:  # pragma: no cover - needs > 4M children in one LA and year
        raise RuntimeError("could not draw distinct UPNs")
    est = codes // 1000
    serial = codes % 1000
    body = _upn_bodies(la, est, yy, serial)
    letters = _upn_check_letters(rng, body, la, est, yy, serial)
    return np.array([a + b for a, b in zip(letters.tolist(), body.tolist())], dtype=object)


#: The DfE check-letter alphabet (23 letters; remainder 0 -> A).
_UPN_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"


def _upn_bodies(la: np.ndarray, est: np.ndarray, yy: np.ndarray, serial: np.ndarray) -> np.ndarray:
    return np.array([f"{a:03d}{e:04d}{y:02d}{s:03d}" for a, e, y, s in
                     zip(la.tolist(), est.tolist(), yy.tolist(), serial.tolist())], dtype=object)


def _upn_check_letters(
    rng: np.random.Generator,
    body: np.ndarray,
    la: np.ndarray,
    est: np.ndarray,
    yy: np.ndarray,
    serial: np.ndarray,
) -> np.ndarray:
    """Check letters for many UPN bodies, vectorised.

    The DfE check letter is a weighted sum of the 12 characters modulo 23, so it is the sum
    of per-position contributions. The contribution of each digit at each position is read
    from :func:`nislink.clean.ids.upn_check_letter` itself (a body of zeros with one digit
    set), and the additivity is verified against ``upn_check_letter`` on a sample of the
    generated bodies; if that check ever failed, every letter would be computed one by one.
    """

    zero = "0" * 12
    base = _UPN_ALPHABET.index(upn_check_letter(zero))
    contrib = np.zeros((12, 10), dtype=np.int64)
    for pos in range(12):
        for dig in range(10):
            s = zero[:pos] + str(dig) + zero[pos + 1:]
            contrib[pos, dig] = (_UPN_ALPHABET.index(upn_check_letter(s)) - base) % 23
    digits = np.stack([
        la // 100, la // 10 % 10, la % 10,
        est // 1000, est // 100 % 10, est // 10 % 10, est % 10,
        yy // 10, yy % 10,
        serial // 100, serial // 10 % 10, serial % 10,
    ], axis=1).astype(np.int64)
    idx = (base + contrib[np.arange(12)[None, :], digits].sum(axis=1)) % 23
    letters = np.array(list(_UPN_ALPHABET))[idx]
    if len(body):
        sample = rng.choice(len(body), size=min(len(body), 2000), replace=False)
        if any(upn_check_letter(str(body[i])) != letters[i] for i in sample):
            return np.array([upn_check_letter(str(b)) for b in body])
    return letters


def generate_postcodes(
    rng: np.random.Generator, outward: np.ndarray | list[str], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` postcodes ``"OUT S UU"`` on real outward codes; returns (postcodes, outward idx).

    Sectors are drawn 0-9 and the unit from the allowed inward letters, so the sector and
    unit are generated (they need not exist), the outward code is real.
    """
    outward = np.asarray(outward)
    oi = rng.integers(0, len(outward), size=n)
    sector = rng.integers(0, 10, size=n)
    letters = POSTCODE_INWARD_LETTERS
    u1 = rng.integers(0, len(letters), size=n)
    u2 = rng.integers(0, len(letters), size=n)
    pc = np.array([f"{outward[o]} {s}{letters[a]}{letters[b]}" for o, s, a, b in
                   zip(oi.tolist(), sector.tolist(), u1.tolist(), u2.tolist())], dtype=object)
    return pc, oi
