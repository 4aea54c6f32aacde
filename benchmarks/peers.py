"""The peers' environment: clkhash and anonlink in a virtualenv of their own.

clkhash 0.18.3 and anonlink 0.15.3 (the reference open-source CLK stack, unmaintained since
2023) cannot share nislink's environment: anonlink's compiled extension is built against
NumPy 1.x, and nislink requires NumPy 2. So the peers live in a separate virtualenv at
``benchmarks/.peers-venv`` (git-ignored), created on first use from the same Python that
runs this file (3.10+; checked on CPython 3.11) with::

    python -m venv benchmarks/.peers-venv
    benchmarks/.peers-venv/bin/pip install clkhash==0.18.3 anonlink==0.15.3 "numpy<2"

(that set resolves on Python 3.11 from PyPI wheels: numpy 1.26.4, bitarray 2.9.x,
cryptography 40.0.2, jsonschema 4.x). Benchmarks and the test-vector generator run code in
that environment through :func:`run_peer` and get JSON back; nothing from the peers'
environment is imported into nislink's. CI never builds this environment: the tests use
committed vectors.

Data goes to the peer process on standard input (never on the command line, where secrets
would be visible to other users of the machine) and comes back as one JSON document on
standard output.

Command line: ``python benchmarks/peers.py`` creates or checks the environment and prints
the peers' versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".peers-venv"

#: What the peers' environment holds. anonlink 0.15.3 is the latest release (2023-05).
PEER_REQUIREMENTS = ["clkhash==0.18.3", "anonlink==0.15.3", "numpy<2"]
EXPECTED_VERSIONS = {"clkhash": "0.18.3", "anonlink": "0.15.3"}

_CHECK = (
    "import json, importlib.metadata as m, clkhash, anonlink, numpy, bitarray\n"
    "print(json.dumps({p: m.version(p) for p in "
    "['clkhash', 'anonlink', 'numpy', 'bitarray', 'cryptography']}))\n"
)


class PeersUnavailable(RuntimeError):
    """The peers' environment could not be created or does not work."""


def peer_python(venv_dir: Path = PEERS_VENV) -> Path:
    """Path of the Python interpreter inside the peers' virtualenv."""
    return venv_dir / "bin" / "python"


def peer_versions(venv_dir: Path = PEERS_VENV) -> dict[str, str] | None:
    """Installed versions of the peers, or ``None`` if the environment is absent or broken."""
    py = peer_python(venv_dir)
    if not py.exists():
        return None
    proc = subprocess.run(
        [str(py), "-c", _CHECK], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def ensure_peers_venv(venv_dir: Path = PEERS_VENV, verbose: bool = True) -> Path:
    """Create (or reuse) the peers' virtualenv; return its Python interpreter.

    Reuses an existing environment when clkhash and anonlink import and have the expected
    versions; otherwise (re)creates it with :data:`PEER_REQUIREMENTS` from the package
    registry. Raises :class:`PeersUnavailable` with pip's output when installing fails.
    """
    versions = peer_versions(venv_dir)
    if versions is not None and all(versions.get(k) == v for k, v in EXPECTED_VERSIONS.items()):
        return peer_python(venv_dir)
    if verbose:
        print(f"[peers] creating {venv_dir} with {' '.join(PEER_REQUIREMENTS)}", file=sys.stderr)
    venv.EnvBuilder(clear=True, with_pip=True).create(str(venv_dir))
    py = peer_python(venv_dir)
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", *PEER_REQUIREMENTS],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise PeersUnavailable(
            "could not install the peers' environment:\n"
            + proc.stdout[-4000:] + proc.stderr[-4000:]
        )
    versions = peer_versions(venv_dir)
    if versions is None or any(versions.get(k) != v for k, v in EXPECTED_VERSIONS.items()):
        raise PeersUnavailable(f"peers' environment is broken after install: {versions}")
    return py


def run_peer(
    script: str | Path,
    payload: Any = None,
    *,
    code: bool = False,
    timeout: float = 3600,
    venv_dir: Path = PEERS_VENV,
) -> Any:
    """Run a script in the peers' environment, send it ``payload`` as JSON, return its JSON.

    ``script`` is a path to a Python file, or (with ``code=True``) the source itself, which
    is written to a temporary file. The script reads one JSON document from standard input
    and prints one JSON document as the last line of standard output. A non-zero exit is
    raised as :class:`PeersUnavailable` with the tail of the peer's standard error.
    """
    py = ensure_peers_venv(venv_dir)
    tmp: str | None = None
    try:
        if code:
            fd, tmp = tempfile.mkstemp(suffix=".py", prefix="nislink_peer_")
            with os.fdopen(fd, "w") as fh:
                fh.write(str(script))
            path = tmp
        else:
            path = str(script)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        proc = subprocess.run(
            [str(py), path],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    finally:
        if tmp is not None:
            os.unlink(tmp)
    if proc.returncode != 0:
        raise PeersUnavailable(
            f"peer script failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise PeersUnavailable("peer script printed nothing")
    return json.loads(lines[-1])


def main() -> None:
    """Create or check the peers' environment and print the versions."""
    ensure_peers_venv()
    print(json.dumps({"venv": str(PEERS_VENV), **(peer_versions() or {})}, indent=1))


if __name__ == "__main__":
    main()
