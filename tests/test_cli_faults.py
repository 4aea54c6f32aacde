"""Issue 13: no silent failures. One test per row of the issue's table, each through the
real ``nislink`` command in a subprocess, on tiny inputs."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nislink.cli import main

REPO = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("NISLINK_SECRET", None)
    env.update(extra)
    return env


def nislink(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real command (``python -m nislink.cli``) in a subprocess."""
    return subprocess.run([sys.executable, "-m", "nislink.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env or _env(),
                          timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Assert exit 2 with one line on stderr (no traceback) holding every needle."""
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err and err.count("\n") == 1, err
    for n in needles:
        assert n in err, (n, err)
    return err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic study with a key and the LA and DWP files encoded."""
    root = tmp_path_factory.mktemp("faults")
    assert main(["synth", "--people", "300", "--seed", "5", "--out", str(root / "syn")]) == 0
    assert main(["secret", "-o", str(root / "key.hex")]) == 0
    for party, idc in (("la", "la_id"), ("dwp", "dwp_id")):
        assert main(["encode", str(root / "syn" / f"{party}.csv"), "-o",
                     str(root / f"{party}.parquet"), "--secret-file", str(root / "key.hex"),
                     "--id-column", idc, "--party", party, "-q", "--workers", "1"]) == 0
    head = pd.read_csv(root / "syn" / "la.csv", dtype=str).head(0)
    head.to_csv(root / "header_only.csv", index=False)
    assert main(["encode", str(root / "header_only.csv"), "-o", str(root / "empty.parquet"),
                 "--secret-file", str(root / "key.hex"), "--id-column", "la_id", "-q",
                 "--workers", "1"]) == 0
    return root


def _key(study: Path) -> list[str]:
    return ["--secret-file", str(study / "key.hex")]


# -- row 1: the README's two commands in one venv (numba's cache shadowing the package) ----
def test_numba_cache_is_outside_the_package(tmp_path: Path) -> None:
    """A copy of the package run as an installed one: after linking (numba compiles and
    caches), nothing is written inside the package, and ``nislink --version`` works from
    another folder."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "nislink", site / "nislink",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    env = _env(PYTHONPATH=str(site), HOME=str(tmp_path / "home"), XDG_CACHE_HOME="")
    env.pop("NUMBA_CACHE_DIR", None)
    code = "import os, nislink, nislink.compare\nprint(os.environ['NUMBA_CACHE_DIR'])\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cache = Path(proc.stdout.strip())
    assert site not in cache.parents and str(tmp_path / "home") in str(cache)
    syn = tmp_path / "syn"
    assert nislink("synth", "--people", "120", "--out", syn, env=env).returncode == 0
    key = tmp_path / "k.hex"
    assert nislink("secret", "-o", key, env=env).returncode == 0
    for party in ("la", "dwp"):
        p = nislink("encode", syn / f"{party}.csv", "-o", tmp_path / f"{party}.parquet",
                    "--secret-file", key, "-q", "--workers", "1", env=env)
        assert p.returncode == 0, p.stderr
    p = nislink("link", tmp_path / "la.parquet", tmp_path / "dwp.parquet", "-o",
                tmp_path / "l.csv", "-q", env=env)
    assert p.returncode == 0, p.stderr
    left = [p for p in (site / "nislink").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert not left, left
    assert any(cache.rglob("*.nbi"))  # the cache went to the user's folder instead
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    v = nislink("--version", cwd=elsewhere, env=env)
    assert v.returncode == 0 and v.stdout.startswith("nislink ")


# -- rows 2-3: a misnamed date-of-birth column; no schema column at all ---------------------
def test_misnamed_dob_column_stops_and_mapping_fixes_it(study: Path, tmp_path: Path) -> None:
    src = pd.read_csv(study / "syn" / "la.csv", dtype=str)
    bad = tmp_path / "la_dob.csv"
    src.rename(columns={"dob": "date_of_birth", "forename": "First Name"}).to_csv(bad,
                                                                                  index=False)
    out = tmp_path / "x.parquet"
    err = one_line_error(nislink("encode", bad, "-o", out, *_key(study), "--id-column", "la_id",
                                 "-q"), "forename", "--columns forename=", "First Name")
    assert not out.exists(), err
    proc = nislink("encode", bad, "-o", out, *_key(study), "--id-column", "la_id", "--columns",
                   "forename=First Name", "dob=date_of_birth")
    assert proc.returncode == 0, proc.stderr
    assert "present" in proc.stdout and "dob" in proc.stdout  # the per-field summary
    # a misspelt mapping of an optional field stops too (it would encode no postcodes)
    one_line_error(nislink("encode", bad, "-o", out.with_name("y.parquet"), *_key(study),
                           "--id-column", "la_id", "--columns", "forename=First Name",
                           "dob=date_of_birth", "postcode=post_code", "-q"),
                   "--columns maps the postcode", "post_code")
    assert not out.with_name("y.parquet").exists()
    from nislink.io import load

    a, b = load(out), load(study / "la.parquet")
    assert list(a.ids) == list(b.ids)
    for k in b.tokens:
        assert np.array_equal(a.tokens[k], b.tokens[k]), k


def test_no_schema_column_at_all_is_an_error(study: Path, tmp_path: Path) -> None:
    src = pd.read_csv(study / "syn" / "la.csv", dtype=str)
    bad = tmp_path / "odd.csv"
    src.add_prefix("x_").to_csv(bad, index=False)
    one_line_error(nislink("encode", bad, "-o", tmp_path / "o.parquet", *_key(study), "-q"),
                   "x_forename", "--columns")
    assert not (tmp_path / "o.parquet").exists()


# -- row 4: an output equal to an input -------------------------------------------------------
@pytest.mark.parametrize("case", ["encode-o", "encode-rejects", "link-o", "clean-o"])
def test_output_equal_to_an_input_is_refused(study: Path, tmp_path: Path, case: str) -> None:
    src = tmp_path / "in.csv"
    shutil.copy(study / "syn" / "la.csv", src)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    shutil.copy(study / "la.parquet", a)
    shutil.copy(study / "dwp.parquet", b)
    before = {p: digest(p) for p in (src, a, b)}
    args = {
        "encode-o": ["encode", src, "-o", src, *_key(study), "-q"],
        "encode-rejects": ["encode", src, "-o", tmp_path / "o.parquet", "--rejects", src,
                           *_key(study), "-q"],
        "link-o": ["link", a, b, "-o", a, "-q"],
        "clean-o": ["clean", src, "-o", src],
    }[case]
    one_line_error(nislink(*args), "refusing to overwrite")
    assert {p: digest(p) for p in before} == before
    assert not (tmp_path / "o.parquet").exists()


# -- row 5: clean -o X.csv and encode -o X.parquet -------------------------------------------
def test_clean_and_encode_rejects_do_not_collide(study: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    df = pd.read_csv(study / "syn" / "la.csv", dtype=str)
    df.loc[0, ["forename", "surname", "dob", "nino", "upn"]] = ""
    df.to_csv(src, index=False)
    assert nislink("clean", src, "-o", tmp_path / "X.csv", "--id-column", "la_id").returncode == 0
    p = nislink("encode", src, "-o", tmp_path / "X.parquet", *_key(study), "--id-column",
                "la_id", "-q")
    assert p.returncode == 0, p.stderr
    clean_rej, enc_rej = tmp_path / "X.csv.rejects.csv", tmp_path / "X.parquet.rejects.csv"
    assert clean_rej.exists() and enc_rej.exists()
    # the clean rejects may quote raw values; the encode rejects never do: both are kept
    assert set(pd.read_csv(enc_rej).columns) == {"row", "id", "field", "reason"}
    assert "reason" in pd.read_csv(clean_rej).columns


# -- row 6: tracebacks --------------------------------------------------------------------
def _unwritable(tmp_path: Path) -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root ignores permissions
        return Path("/proc/nislink-test/links.csv")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return ro / "links.csv"


def test_unwritable_output_folder(study: Path, tmp_path: Path) -> None:
    out = _unwritable(tmp_path)
    one_line_error(nislink("link", study / "la.parquet", study / "dwp.parquet", "-o", out, "-q"),
                   str(out.parent))


def test_output_in_a_new_folder_is_created(study: Path, tmp_path: Path) -> None:
    out = tmp_path / "newdir" / "deeper" / "x.parquet"
    p = nislink("encode", study / "syn" / "dwp.csv", "-o", out, *_key(study), "-q",
                "--id-column", "dwp_id")
    assert p.returncode == 0, p.stderr
    assert out.exists() and (out.parent / "x.parquet.rejects.csv").exists()
    assert not [q for q in out.parent.iterdir() if ".nislink-tmp-" in q.name]


@pytest.mark.parametrize("content", ["id_a,id_b\n1,2\n", "{}", "[1, 2]", "{\"format\": 3}"])
def test_link_with_a_bad_model(study: Path, tmp_path: Path, content: str) -> None:
    model = tmp_path / ("m.csv" if "," in content and "{" not in content else "m.json")
    model.write_text(content)
    one_line_error(nislink("link", study / "la.parquet", study / "dwp.parquet", "-o",
                           tmp_path / "l.csv", "--model", model, "-q"), str(model))
    assert not (tmp_path / "l.csv").exists()


@pytest.mark.parametrize("command", ["link", "dedupe"])
def test_header_only_encoding(study: Path, tmp_path: Path, command: str) -> None:
    args = ([study / "empty.parquet", study / "dwp.parquet"] if command == "link"
            else [study / "empty.parquet"])
    one_line_error(nislink(command, *args, "-o", tmp_path / "o.csv", "-q"), "no rows")


@pytest.mark.parametrize("args, needle", [
    (["--party", "martians"], "--party"),
    (["--party", "x" * 40], "--party"),
    (["--party", "la; rm -rf"], "--party"),
])
def test_withdraw_party_names(study: Path, args: list[str], needle: str) -> None:
    one_line_error(nislink("withdraw", study / "syn", "P123", *args), needle)


def test_withdraw_refuses_a_folder_that_is_not_a_study(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    one_line_error(nislink("withdraw", "/", "P123"), "study folder")
    assert time.perf_counter() - t0 < 60  # did not walk the file system
    (tmp_path / "x.csv").write_text("person_ref\nP123\n")
    one_line_error(nislink("withdraw", tmp_path, "P123"), "study folder")
    assert (tmp_path / "x.csv").read_text() == "person_ref\nP123\n"


def test_demo_with_too_few_people(tmp_path: Path) -> None:
    one_line_error(nislink("demo", "--people", "5", "--out", tmp_path / "d"), "--people",
                   "at least")
    assert not (tmp_path / "d").exists()


def test_demo_never_replaces_a_folder_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("precious")
    one_line_error(nislink("demo", "--out", tmp_path), "not a nislink demo folder")
    assert (tmp_path / "mine.txt").read_text() == "precious"


def test_privacy_report_with_a_missing_public_file(study: Path, tmp_path: Path) -> None:
    one_line_error(nislink("privacy-report", study / "la.parquet", "--public",
                           tmp_path / "missing.csv"), "missing.csv")


# -- row 7: Ctrl-C during a parallel encode ----------------------------------------------------
def _children(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                out |= {int(x) for x in Path(f"/proc/{pid}/task/{t}/children").read_text().split()}
            except OSError:
                pass
    except OSError:
        pass
    return out


def _ignores_sigint(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone meanwhile
        return True
    for line in status.splitlines():
        if line.startswith(("SigIgn:", "SigBlk:")) and int(line.split()[1], 16) & 0x2:
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status


def _sigint_default() -> None:
    """Ctrl-C as a terminal gives it: a test run started in the background by a
    non-interactive shell (``cmd &``) ignores SIGINT, and a child inherits that, so
    Python would install no KeyboardInterrupt handler and the command could not be
    interrupted at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs Linux /proc/PID/task/TID/children")
@pytest.mark.parametrize("group", [False, True], ids=["parent", "process-group"])
def test_ctrl_c_stops_workers_and_leaves_nothing(study: Path, tmp_path: Path,
                                                 group: bool) -> None:
    df = pd.read_csv(study / "syn" / "la.csv", dtype=str)
    big = pd.concat([df] * 300, ignore_index=True)
    big["la_id"] = [f"X{i}" for i in range(len(big))]
    src = tmp_path / "big.csv"
    big.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nislink.cli", "encode", str(src), "-o", str(out),
         *_key(study), "--id-column", "la_id", "-q", "--chunk-size", "500", "--workers", "2"],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_sigint_default)
    kids: set[int] = set()
    t0 = time.time()
    while time.time() - t0 < 60 and len(kids) < 2 and proc.poll() is None:
        kids |= _children(proc.pid)
        time.sleep(0.02)
    assert proc.poll() is None, "finished before it could be interrupted"
    time.sleep(0.1)
    kids |= _children(proc.pid)
    assert all(_ignores_sigint(k) for k in kids if _alive(k))  # workers leave it to the parent
    if group:  # what a terminal does: SIGINT to every process of the job
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    t1 = time.time()
    _, err = proc.communicate(timeout=30)
    assert time.time() - t1 < 10
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    deadline = time.time() + 5
    while time.time() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.05)
    assert not [k for k in kids if _alive(k)]
    assert not out.exists() and not (tmp_path / "out.parquet.rejects.csv").exists()
    assert not [p for p in tmp_path.iterdir() if ".nislink-tmp-" in p.name]


# -- row 8: the key pasted as the value of --secret-env / --secret-file ------------------------
@pytest.mark.parametrize("option", ["--secret-env", "--secret-file", "--secret-env="])
def test_a_pasted_key_is_never_echoed(study: Path, tmp_path: Path, option: str) -> None:
    key = (study / "key.hex").read_text().strip()
    args = [f"{option}{key}"] if option.endswith("=") else [option, key]
    proc = nislink("encode", study / "syn" / "la.csv", "-o", tmp_path / "o.parquet", *args, "-q")
    one_line_error(proc, option.rstrip("="))
    assert key not in proc.stderr and key not in proc.stdout
    assert key[:32] not in proc.stderr


def test_key_in_any_argument_is_not_echoed(tmp_path: Path) -> None:
    import base64
    import secrets as _s

    key = base64.b64encode(_s.token_bytes(32)).decode()
    for args in (["demo", "--people", key], ["withdraw", key, "P1"], ["purge", "x", "--today",
                                                                       key]):
        proc = nislink(*args)
        assert proc.returncode == 2 and key not in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


# -- row 9: one id twice in a file, at any chunk size -------------------------------------------
def test_duplicate_ids_same_at_any_chunk_size(study: Path, tmp_path: Path) -> None:
    df = pd.read_csv(study / "syn" / "la.csv", dtype=str)
    big = pd.concat([df] * 5, ignore_index=True)
    big["la_id"] = [f"X{i}" for i in range(len(big))]
    big.loc[1200, "la_id"] = "X3"
    src = tmp_path / "dup.csv"
    big.to_csv(src, index=False)
    results = []
    for size in (["--chunk-size", "1000"], []):
        out = tmp_path / f"o{len(size)}.parquet"
        p = nislink("encode", src, "-o", out, *_key(study), "--id-column", "la_id", "-q", *size)
        assert p.returncode == 0, p.stderr
        rej = pd.read_csv(f"{out}.rejects.csv", dtype=str)
        results.append(rej)
        dup = rej[rej["reason"] == "duplicated id"]
        assert sorted(dup["row"].astype(int)) == [3, 1200] and set(dup["id"]) == {"X3"}
    pd.testing.assert_frame_equal(results[0], results[1])


# -- row 10: a 10 MB forename ----------------------------------------------------------------
def test_a_huge_field_is_rejected_before_encoding(study: Path, tmp_path: Path) -> None:
    df = pd.read_csv(study / "syn" / "la.csv", dtype=str).head(2).copy()
    df.loc[1, "forename"] = "A" * 10_000_000
    src = tmp_path / "long.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "o.parquet"
    p = nislink("encode", src, "-o", out, *_key(study), "--id-column", "la_id", "-q",
                "--workers", "1")
    assert p.returncode == 0, p.stderr
    rej = pd.read_csv(f"{out}.rejects.csv", dtype=str)
    assert rej["row"].tolist() == ["1"] and "longer than 200 characters" in rej["reason"][0]
    assert "AAAA" not in (tmp_path / "o.parquet.rejects.csv").read_text()
    assert "1 rejected" in p.stdout


def test_a_huge_field_is_rejected_before_cleaning(study: Path, tmp_path: Path) -> None:
    df = pd.read_csv(study / "syn" / "la.csv", dtype=str).head(3).copy()
    df.loc[1, "surname"] = "B" * 5_000_000
    src = tmp_path / "long.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "c.csv"
    p = nislink("clean", src, "-o", out, "--id-column", "la_id")
    assert p.returncode == 0, p.stderr
    assert "cleaned 3 rows: 2 kept" in p.stdout
    rej = pd.read_csv(f"{out}.rejects.csv", dtype=str)
    assert rej["row"].tolist() == ["1"] and rej["field"].tolist() == ["surname"]
    assert "longer than 200 characters" in rej["reason"][0]
    assert len(pd.read_csv(out)) == 2


# -- row 11: a latin-1 byte -----------------------------------------------------------------
@pytest.mark.parametrize("command", ["encode", "clean"])
def test_latin1_byte_reported_at_its_line_and_offset(study: Path, tmp_path: Path,
                                                     command: str) -> None:
    src = tmp_path / "lat.csv"
    head = b"id,forename,surname,dob\n1,Ann,Lee,01/02/1980\n"
    src.write_bytes(head + b"2,Jos\xe9,Smith,01/02/1981\n")
    args = [*_key(study), "-q"] if command == "encode" else []
    one_line_error(nislink(command, src, "-o", tmp_path / "o.parquet", *args),
                   "0xe9", "line 3", f"byte {len(head) + 5} of the file", "byte 5 of the line")


# -- row 12: privacy-report on a file without rows ---------------------------------------------
def test_privacy_report_refuses_an_empty_file(study: Path) -> None:
    proc = nislink("privacy-report", study / "empty.parquet")
    one_line_error(proc, "no rows")
    assert "LOW RISK" not in proc.stdout


# -- row 13: a destroy-by date already past -----------------------------------------------------
def test_destroy_by_in_the_past_is_refused(study: Path, tmp_path: Path) -> None:
    one_line_error(nislink("encode", study / "syn" / "dwp.csv", "-o", tmp_path / "o.parquet",
                           *_key(study), "--destroy-by", "2020-01-01", "-q"), "--destroy-by",
                   "past")
    assert not (tmp_path / "o.parquet").exists()


# -- row 14: every date of birth before 1900 --------------------------------------------------
def test_all_dates_out_of_range_warn(study: Path, tmp_path: Path) -> None:
    from nislink import Encoder, Schema, Secret
    from nislink.encode.columns import DataQualityWarning

    df = pd.read_csv(study / "syn" / "dwp.csv", dtype=str).head(30).copy()
    df["dob"] = "01/01/1850"
    with pytest.warns(DataQualityWarning, match="'dob'"):
        res = Encoder(Schema.uk_default(), Secret.generate()).encode(df, id_column="dwp_id")
    assert res.summary.counts["dob"]["rejected"] == len(res)
    src = tmp_path / "old.csv"
    df.to_csv(src, index=False)
    p = nislink("encode", src, "-o", tmp_path / "o.parquet", *_key(study), "--id-column",
                "dwp_id", "--workers", "1")
    assert p.returncode == 0
    assert "warning: field 'dob'" in p.stderr and "Traceback" not in p.stderr
