"""bundle: the wheel of the running asgiforge that projects carry when no index has asgiforge."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from asgiforge import __version__, bundle

WHEEL = f"asgiforge-{__version__}-py3-none-any.whl"
DIST_INFO = f"asgiforge-{__version__}.dist-info"
PIP_INSTALL = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet"]


def check_record(path: Path) -> set[str]:
    """Every file of the wheel is in its RECORD with the right hash and size; returns the names."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        record = archive.read(f"{DIST_INFO}/RECORD").decode().splitlines()
        listed = {}
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            listed[name] = (digest, size)
        for name in names - {f"{DIST_INFO}/RECORD"}:
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert listed[name] == (f"sha256={expected.decode()}", str(len(data))), name
    assert set(listed) == names
    return names


def pip_install_target(wheel: Path, target: Path) -> None:
    result = subprocess.run(
        [*PIP_INSTALL, "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_the_running_source_tree_is_not_from_an_index() -> None:
    assert bundle.from_index() is False


def test_the_bundled_wheel_is_marked_and_installs(tmp_path: Path) -> None:
    wheel = bundle.running_wheel()
    assert wheel.filename == WHEEL
    path = tmp_path / wheel.filename
    path.write_bytes(wheel.content)
    names = check_record(path)
    assert f"{DIST_INFO}/{bundle.BUNDLED_MARKER}" in names
    assert "asgiforge/scaffold.py" in names
    assert not any("__pycache__" in name for name in names)
    pip_install_target(path, tmp_path / "site")
    assert (tmp_path / "site" / DIST_INFO / bundle.BUNDLED_MARKER).is_file()


def test_an_asgiforge_installed_from_a_bundled_wheel_bundles_itself_again(tmp_path: Path) -> None:
    """Installed with `--find-links` (no direct_url.json) and the wheel gone: the marker says
    "not from an index" and the wheel is repacked from the installed files."""
    wheel = tmp_path / WHEEL
    wheel.write_bytes(bundle.running_wheel().content)
    site = tmp_path / "site"
    pip_install_target(wheel, site)
    (site / DIST_INFO / "direct_url.json").unlink(missing_ok=True)
    wheel.unlink()
    (tmp_path / "again").mkdir()
    probe = (
        "from asgiforge import bundle; w = bundle.running_wheel(); "
        "open('again/' + w.filename, 'wb').write(w.content); print(bundle.from_index(), w.filename)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(site)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", WHEEL]
    again = tmp_path / "again" / WHEEL
    names = check_record(again)
    assert f"{DIST_INFO}/{bundle.BUNDLED_MARKER}" in names
    assert f"{DIST_INFO}/INSTALLER" not in names
    pip_install_target(again, tmp_path / "site2")
    assert (tmp_path / "site2" / "asgiforge" / "scaffold.py").read_bytes() == (
        site / "asgiforge" / "scaffold.py"
    ).read_bytes()
