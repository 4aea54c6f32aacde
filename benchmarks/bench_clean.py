"""Benchmark: clean messy identifier rows with ``nislink.clean.frame`` on one core.

Builds ``--n`` rows (default 1,000,000) of realistic, messy identifiers — forename,
surname, date of birth in mixed formats, postcode, sex, NINO — drawn with NumPy from
small vocabularies with repeats (a pool of ``--people`` distinct people, each appearing
several times with differently written values, as in repeated six-monthly submissions),
then times :func:`nislink.clean.frame` and prints rows per second.

    python benchmarks/bench_clean.py            # 1,000,000 rows
    python benchmarks/bench_clean.py --n 200000 # quicker

Threads are limited to one (Arrow CPU pool, BLAS/OpenMP) so that the figure is per core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FORENAMES = (
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James "
    "Henry Leo Alfie Joshua Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel "
    "Max Daniel Arthur Lucas Mohammed Logan Theo Harrison Benjamin Mason Sebastian "
    "Finley Adam Dylan Zachary Riley Teddy Theodore David Toby Jake Louie Elijah Reuben "
    "Olivia Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Evie Sophia Grace Jessica "
    "Sophie Ruby Chloe Daisy Freya Florence Alice Charlotte Sienna Matilda Evelyn Eva "
    "Millie Sofia Lucy Elsie Imogen Layla Rosie Maya Esme Zoë Chloé Siân Niamh Aoife "
    "Bill Bob Peggy Liz Gaz Baz Kez Mary-Jane Anne-Marie Jean-Luc Seán Bjørn José Zoe "
    "Susan Margaret Patricia Linda Barbara Karen Sharon Tracey Julie Dawn Michelle "
    "Gary Paul Mark Stephen Andrew Ian Darren Wayne Lee Craig Dean Kevin Neil Steven"
).split()

SURNAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts "
    "Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris "
    "Clarke Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee "
    "King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price "
    "Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell "
    "Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh "
    "Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain "
    "Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell "
    "Barker Fisher Stevens Jenkins Murray Dixon Harvey O'Brien O'Neill McDonald "
    "MacLeod D'Souza Smith-Jones Fernández Nowak Kowalski Müller Østergaard Lord Dean"
).split()

AREAS = (
    "AB AL B BA BB BD BH BL BN BR BS CA CB CF CH CM CO CR CT CV CW DA DE DH DL DN DT "
    "DY E EC EH EN EX FY G GL GU HA HD HG HP HR HU HX IG IP KT L LA LE LL LN LS LU M "
    "ME MK N NE NG NN NP NR NW OL OX PE PL PO PR RG RH RM S SE SG SK SL SM SN SO SP SR "
    "SS ST SW SY TA TN TQ TR TS TW UB W WA WD WF WN WR WS WV YO"
).split()
INWARD_LETTERS = list("ABDEFGHJLNPQRSTUWXYZ")
NINO_FIRST = list("ABCEGHJKLMNOPRSTWXYZ")
NINO_SECOND = list("ABCEGHJKLMNPRSTWXYZ")
NINO_BAD = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
TITLES = ["", "", "", "", "", "", "", "", "Mr ", "Mrs ", "Miss ", "Ms ", "Dr "]


def _pick(rng: np.random.Generator, choices: list[str], size: int) -> np.ndarray:
    return np.asarray(choices, dtype=object)[rng.integers(0, len(choices), size)]


def _variants(values: np.ndarray, rng: np.random.Generator, n: int, idx: np.ndarray) -> np.ndarray:
    """Messy spellings of ``values[idx]``: case, padding, titles, missing, junk."""
    base = values[idx]
    style = rng.integers(0, 100, n)
    out = base.copy()
    up = style < 15
    out[up] = np.char.upper(base[up].astype(str)).astype(object)
    low = (style >= 15) & (style < 30)
    out[low] = np.char.lower(base[low].astype(str)).astype(object)
    pad = (style >= 30) & (style < 38)
    out[pad] = np.char.add(np.char.add("  ", base[pad].astype(str)), " ").astype(object)
    titled = (style >= 38) & (style < 45)
    out[titled] = np.char.add(_pick(rng, TITLES, int(titled.sum())).astype(str),
                              base[titled].astype(str)).astype(object)  # fmt: skip
    out[(style >= 95) & (style < 98)] = None
    junk = style >= 98
    out[junk] = _pick(rng, ["Unknown", "XXX", "n/a", "", "Baby", "Test"], int(junk.sum()))
    return out


def make_rows(n: int, people: int, seed: int = 0) -> pd.DataFrame:
    """``n`` messy rows drawn from a pool of ``people`` distinct people."""
    rng = np.random.default_rng(seed)
    # --- the people
    fn = rng.integers(0, len(FORENAMES), people)
    sn = rng.integers(0, len(SURNAMES), people)
    start = np.datetime64("1935-01-01")
    days = rng.integers(0, (np.datetime64("2022-12-31") - start).astype(int), people)
    birth = start + days.astype("timedelta64[D]")
    sexes = rng.integers(0, 2, people)
    n_pc = max(people // 10, 1)
    pcs = np.char.add(
        np.char.add(
            np.char.add(_pick(rng, AREAS, n_pc).astype(str),
                        rng.integers(1, 30, n_pc).astype(str)),
            " ",
        ),
        np.char.add(rng.integers(0, 10, n_pc).astype(str),
                    np.char.add(_pick(rng, INWARD_LETTERS, n_pc).astype(str),
                                _pick(rng, INWARD_LETTERS, n_pc).astype(str))),
    ).astype(object)  # fmt: skip
    person_pc = rng.integers(0, n_pc, people)
    prefixes = [a + b for a in NINO_FIRST for b in NINO_SECOND if a + b not in NINO_BAD]
    ninos = np.char.add(
        np.char.add(_pick(rng, prefixes, people).astype(str),
                    np.char.zfill(rng.integers(0, 1_000_000, people).astype(str), 6)),
        _pick(rng, list("ABCD"), people).astype(str),
    ).astype(object)  # fmt: skip

    # --- the rows
    who = rng.integers(0, people, n)
    forename = _variants(np.asarray(FORENAMES, dtype=object), rng, n, fn[who])
    surname = _variants(np.asarray(SURNAMES, dtype=object), rng, n, sn[who])

    b = birth[who]
    y = b.astype("datetime64[Y]").astype(int) + 1970
    m = b.astype("datetime64[M]").astype(int) % 12 + 1
    d = (b - b.astype("datetime64[M]")).astype(int) + 1
    ys, ms, ds = y.astype(str), np.char.zfill(m.astype(str), 2), np.char.zfill(d.astype(str), 2)
    fmt = rng.integers(0, 100, n)
    iso = np.char.add(np.char.add(np.char.add(np.char.add(ys, "-"), ms), "-"), ds)
    dmy = np.char.add(np.char.add(np.char.add(np.char.add(ds, "/"), ms), "/"), ys)
    dmy_dash = np.char.add(np.char.add(np.char.add(np.char.add(ds, "-"), ms), "-"), ys)
    compact = np.char.add(np.char.add(ys, ms), ds)
    mon = np.char.add(np.char.add(np.char.add(np.char.add(d.astype(str), " "),
                                              np.asarray(MONTHS)[m - 1]), " "), ys)  # fmt: skip
    dob = np.where(fmt < 35, iso, np.where(fmt < 70, dmy, np.where(fmt < 80, dmy_dash,
                   np.where(fmt < 88, compact, mon)))).astype(object)  # fmt: skip
    dob[(fmt >= 96) & (fmt < 98)] = None
    bad = fmt >= 98
    dob[bad] = _pick(rng, ["30/02/1980", "1900-01-01", "unknown", "2099-01-01", "31/31/1990"],
                     int(bad.sum()))  # fmt: skip

    pc = pcs[person_pc[who]].copy()
    style = rng.integers(0, 100, n)
    compact_pc = style < 25
    pc[compact_pc] = np.char.lower(np.char.replace(pc[compact_pc].astype(str), " ", "")).astype(
        object
    )
    spaced = (style >= 25) & (style < 35)
    pc[spaced] = np.char.add(" ", pc[spaced].astype(str)).astype(object)
    pc[(style >= 93) & (style < 97)] = None
    pc[style >= 97] = _pick(rng, ["NFA", "ZZ99 3VZ", "N/K", "SW1"], int((style >= 97).sum()))

    style = rng.integers(0, 100, n)
    sx = sexes[who]
    sex = np.where(sx == 0, "M", "F").astype(object)
    sex[(style >= 40) & (style < 55)] = np.where(sx == 0, "Male", "female")[
        (style >= 40) & (style < 55)
    ]
    sex[(style >= 55) & (style < 75)] = np.where(sx == 0, "1", "2")[(style >= 55) & (style < 75)]
    sex[(style >= 75) & (style < 80)] = np.where(sx == 0, "m", "f")[(style >= 75) & (style < 80)]
    sex[(style >= 92) & (style < 96)] = "U"
    sex[style >= 96] = None

    style = rng.integers(0, 100, n)
    ni = ninos[who].copy()
    sp = style < 35
    spaced_ni = [f"{x[:2]} {x[2:4]} {x[4:6]} {x[6:8]} {x[8:]}" for x in ni[sp]]
    ni[sp] = np.asarray(spaced_ni, dtype=object)
    low = (style >= 35) & (style < 45)
    ni[low] = np.char.lower(ni[low].astype(str)).astype(object)
    ni[style >= 75] = None  # children and people without a known NINO

    return pd.DataFrame(
        {
            "rid": np.char.add("r", np.arange(n).astype(str)).astype(object),
            "forename": forename,
            "surname": surname,
            "dob": dob,
            "postcode": pc,
            "sex": sex,
            "nino": ni,
        }
    )


MAPPING = {
    "forename": "forename",
    "surname": "surname",
    "dob": "dob",
    "postcode": "postcode",
    "sex": "sex",
    "nino": "nino",
}


def clear_caches() -> int:
    """Empty every ``lru_cache`` in ``nislink.clean`` so that each timed run starts cold."""
    import importlib

    cleared = 0
    for mod in ("names", "sex", "dates", "postcodes", "ids", "frame"):
        try:
            module = importlib.import_module(f"nislink.clean.{mod}")
        except ImportError:  # pragma: no cover
            continue
        for obj in vars(module).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()
                cleared += 1
    return cleared


def main(argv: list[str] | None = None) -> None:
    """Build the rows, time ``frame`` and print rows per second."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="rows to clean (default 1e6)")
    ap.add_argument("--people", type=int, default=None,
                    help="distinct people in the pool (default n/5)")  # fmt: skip
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed runs, each with cold caches (best is reported)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    try:
        import pyarrow as pa

        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
    except Exception:  # pragma: no cover
        pass
    from nislink.clean import frame

    people = args.people or max(args.n // 5, 1)
    t0 = time.perf_counter()
    df = make_rows(args.n, people, args.seed)
    t_make = time.perf_counter() - t0
    print(f"built {len(df):,} rows from {people:,} people in {t_make:.1f} s")
    print("distinct values: " + ", ".join(f"{c}={df[c].nunique():,}" for c in MAPPING))

    today = dt.date(2026, 1, 1)
    best = float("inf")
    for _ in range(args.repeat):
        clear_caches()  # cold caches: no credit for values seen in an earlier run
        t0 = time.perf_counter()
        clean, rejects = frame(df, MAPPING, id_column="rid", today=today)
        best = min(best, time.perf_counter() - t0)
    assert len(clean) + len(rejects) == len(df)
    print(f"kept {len(clean):,} rows, rejected {len(rejects):,}")
    for c in MAPPING:
        ok = float((clean[f"{c}_status"] == "ok").mean())
        print(f"  {c:9s} ok {ok:6.1%}")
    print(f"frame(): {best:.2f} s for {len(df):,} rows = {len(df) / best:,.0f} rows/s (one core)")


if __name__ == "__main__":
    main()
