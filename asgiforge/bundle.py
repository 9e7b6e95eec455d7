"""A wheel of the running asgiforge, so projects it generates install where no index has it.

A generated project depends on asgiforge. When asgiforge came from a package index, that is an
ordinary requirement (`asgiforge>=X`). When it did not (a source checkout, an editable install, a
wheel built locally), no index can satisfy that requirement on the next machine, so `asgiforge
new` copies a wheel of *this* asgiforge into the project's `wheels/` folder, pins the version
(`asgiforge==X`) and the README and Dockerfile install with `pip install --find-links wheels`.
Third-party dependencies still come from the index as usual.

How the running asgiforge was installed is read from its distribution metadata: PEP 610's
`direct_url.json` is written for installs from a folder, a wheel file or a URL; `--find-links`
installs look like index installs to pip, so every wheel we bundle carries a marker file in its
`.dist-info` and an asgiforge installed from one bundles again. The wheel is built with
`pip wheel --no-deps` from the source folder (cached by a hash of the source, so repeated `new`
calls build once), else taken from the wheel file asgiforge was installed from, else repacked
from the installed files listed in its RECORD.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from asgiforge.errors import ScaffoldError

WHEELS_DIR = "wheels"
#: A file added to the metadata of every wheel we bundle, so an asgiforge installed from one is
#: known not to come from an index (pip records `--find-links` installs like index installs).
BUNDLED_MARKER = "asgiforge-bundled"
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


def _is_bundled(dist: metadata.Distribution) -> bool:
    return dist.read_text(BUNDLED_MARKER) is not None


def from_index() -> bool:
    """True when the running asgiforge is an ordinary install from a package index.

    Not from an index: no installed metadata, a PEP 610 `direct_url.json` (a local folder, an
    editable install, a wheel file), metadata describing other code than what runs (a source
    tree on PYTHONPATH), or our own marker (installed from a wheel a project bundled, which
    pip records like an index install because it came through `--find-links`).
    """
    dist = _distribution()
    if dist is None or _direct_url(dist) is not None or _is_bundled(dist):
        return False
    installed = Path(str(dist.locate_file("asgiforge/__init__.py")))
    return installed.resolve() == _PACKAGE_DIR / "__init__.py"


def _is_source(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    return (
        pyproject.is_file()
        and 'name = "asgiforge"' in pyproject.read_text(errors="replace")
        and (folder / "asgiforge" / "__init__.py").is_file()
    )


def _direct_path(dist: metadata.Distribution | None) -> Path | None:
    """The local file or folder asgiforge was installed from (PEP 610), if any."""
    info = (_direct_url(dist) or {}) if dist is not None else {}
    url = str(info.get("url", ""))
    return Path(unquote(urlparse(url).path)) if url.startswith("file:") else None


def _source_folder() -> Path | None:
    """A source tree of the running asgiforge: the folder it runs from, or the local folder it
    was installed from (`pip install ./asgiforge`) when that is still there."""
    if _is_source(_PACKAGE_DIR.parent):
        return _PACKAGE_DIR.parent
    origin = _direct_path(_distribution())
    return origin if origin is not None and origin.is_dir() and _is_source(origin) else None


def _local_wheel() -> Path | None:
    """The wheel file asgiforge was installed from, when its metadata names one still on disk."""
    origin = _direct_path(_distribution())
    return origin if origin is not None and origin.suffix == ".whl" and origin.is_file() else None


def _record_hash(content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _pack(entries: dict[str, bytes], dist_info: str) -> bytes:
    """A wheel (zip) of `entries` plus our marker and a RECORD that lists every file's hash."""
    entries = {**entries, f"{dist_info}/{BUNDLED_MARKER}": b"asgiforge new bundled this wheel\n"}
    record_name = f"{dist_info}/RECORD"
    lines = [f"{name},{_record_hash(data)},{len(data)}" for name, data in sorted(entries.items())]
    entries[record_name] = ("\n".join([*lines, f"{record_name},,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def _marked(path: Path) -> bytes:
    """The wheel at `path`, with our marker added to its metadata."""
    with zipfile.ZipFile(path) as archive:
        entries = {
            name: archive.read(name) for name in archive.namelist() if not name.endswith("/")
        }
    dist_info = next(name.split("/")[0] for name in entries if ".dist-info/" in name)
    entries.pop(f"{dist_info}/RECORD", None)
    return _pack(entries, dist_info)


def _from_installed() -> Wheel | None:
    """A wheel made from the installed files of the running asgiforge (RECORD lists them)."""
    dist = _distribution()
    if dist is None or dist.files is None:
        return None
    entries: dict[str, bytes] = {}
    dist_info = ""
    skipped = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    for file in dist.files:
        name = file.as_posix()
        top = name.split("/")[0]
        if top.endswith(".dist-info"):
            dist_info = top
            if name.split("/")[-1] in skipped:
                continue
        elif top != "asgiforge" or "__pycache__" in name:
            continue  # scripts, .pth files and bytecode are the installer's, not the wheel's
        located = Path(str(dist.locate_file(file)))
        if not located.is_file():
            return None
        entries[name] = located.read_bytes()
    if not dist_info or "asgiforge/__init__.py" not in entries:
        return None
    if (
        Path(str(dist.locate_file("asgiforge/__init__.py"))).resolve()
        != _PACKAGE_DIR / "__init__.py"
    ):
        return None
    filename = f"asgiforge-{dist.version}-py3-none-any.whl"
    return Wheel(filename=filename, content=_pack(entries, dist_info))


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
    """A wheel of the asgiforge that is running, marked as bundled (see the module docstring).

    From the source tree (built with pip, cached), else the wheel file it was installed from,
    else repacked from its installed files.
    """
    source = _source_folder()
    path = _build(source) if source is not None else _local_wheel()
    if path is not None:
        return Wheel(filename=path.name, content=_marked(path))
    rebuilt = _from_installed()
    if rebuilt is None:
        raise ScaffoldError(
            "asgiforge was not installed from a package index and neither its source, its wheel "
            "nor its installed files could be found to give the project; reinstall asgiforge "
            "from a wheel or a source checkout"
        )
    return rebuilt
