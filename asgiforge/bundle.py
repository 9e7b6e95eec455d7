"""A wheel of the running asgiforge, so projects it generates install where no index has it.

A generated project depends on asgiforge. When asgiforge came from a package index, that is an
ordinary requirement (`asgiforge>=X`). When it did not (a source checkout, an editable install, a
wheel built locally), no index can satisfy that requirement on the next machine, so `asgiforge
new` copies a wheel of *this* asgiforge into the project's `wheels/` folder, pins the version
(`asgiforge==X`) and the README and Dockerfile install with `pip install --find-links wheels`.
Third-party dependencies still come from the index as usual.

How the running asgiforge was installed is read from its distribution metadata (PEP 610's
`direct_url.json` is written for every install that did not come from an index). The wheel is
the original file when that is still on disk, otherwise built with `pip wheel --no-deps` from the
source folder, and cached by a hash of the source so repeated `new` calls build once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from asgiforge.errors import ScaffoldError

WHEELS_DIR = "wheels"
BUILD_TIMEOUT = 600.0
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Wheel:
    filename: str
    content: bytes


def _distribution() -> metadata.Distribution | None:
    try:
        return metadata.distribution("asgiforge")
    except metadata.PackageNotFoundError:
        return None


def _direct_url(dist: metadata.Distribution) -> dict[str, object] | None:
    text = dist.read_text("direct_url.json")
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def from_index() -> bool:
    """True when the running asgiforge is an ordinary install from a package index."""
    dist = _distribution()
    if dist is None or _direct_url(dist) is not None:
        return False
    # The metadata must describe the code that is running (not a copy shadowed by PYTHONPATH).
    installed = Path(str(dist.locate_file("asgiforge/__init__.py")))
    return installed.resolve() == _PACKAGE_DIR / "__init__.py"


def _source_folder() -> Path | None:
    """The folder holding asgiforge's pyproject.toml for the code that is running, if any."""
    candidate = _PACKAGE_DIR.parent
    pyproject = candidate / "pyproject.toml"
    if pyproject.is_file() and 'name = "asgiforge"' in pyproject.read_text(errors="replace"):
        return candidate
    return None


def _local_wheel() -> Path | None:
    """The wheel file asgiforge was installed from, when its metadata names one still on disk."""
    dist = _distribution()
    if dist is None:
        return None
    info = _direct_url(dist) or {}
    url = str(info.get("url", ""))
    if not url.startswith("file:"):
        return None
    path = Path(unquote(urlparse(url).path))
    return path if path.suffix == ".whl" and path.is_file() else None


def cache_dir() -> Path:
    """`$ASGIFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/asgiforge`, else `~/.cache/asgiforge`."""
    explicit = os.environ.get("ASGIFORGE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "asgiforge"


def _source_hash(source: Path) -> str:
    digest = hashlib.sha256()
    files = [source / "pyproject.toml", source / "README.md"]
    for dirpath, dirnames, filenames in os.walk(source / "asgiforge"):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        files.extend(Path(dirpath, f) for f in sorted(filenames) if not f.endswith(".pyc"))
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(source)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def _build(source: Path) -> Path:
    cached = cache_dir() / "wheels" / _source_hash(source)
    found = sorted(cached.glob("asgiforge-*.whl")) if cached.is_dir() else []
    if found:
        return found[0]
    cached.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cached.parent))
    try:
        try:
            pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
            result = subprocess.run(
                [*pip, "-w", str(work), str(source)],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ScaffoldError("building a wheel of asgiforge took too long") from None
        built = sorted(work.glob("asgiforge-*.whl"))
        if result.returncode != 0 or not built:
            detail = " ".join((result.stderr or result.stdout).split())[-300:]
            raise ScaffoldError(f"building a wheel of asgiforge with pip failed: {detail}")
        try:
            os.replace(work, cached)
        except OSError:
            if not any(cached.glob("asgiforge-*.whl")):  # not a concurrent build that won
                raise
        return sorted(cached.glob("asgiforge-*.whl"))[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)


@functools.cache
def running_wheel() -> Wheel:
    """A wheel of the asgiforge that is running (see the module docstring for where from)."""
    source = _source_folder()
    path = _build(source) if source is not None else _local_wheel()
    if path is None:
        raise ScaffoldError(
            "asgiforge was not installed from a package index and neither its source folder nor "
            "its wheel is on disk, so the project could not depend on it; reinstall asgiforge "
            "from a wheel or a source checkout"
        )
    return Wheel(filename=path.name, content=path.read_bytes())
