"""Writing a rendered project all or nothing: stage next to the target, then move into place.

`write` (behind `asgiforge new`) and `apply_changes` (behind `asgiforge update`) write every file
into a staging directory created *next to* the target (same filesystem, so the final moves are
renames), then move each into place keeping a backup of what it replaces; any failure puts every
backup back and removes what was created. Paths are checked first: nothing is written through a
symlink or onto a directory. `_write_file` and `_move` are seams the failure tests patch.
"""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from asgiforge.errors import ScaffoldError

if TYPE_CHECKING:
    from asgiforge.scaffold import Plan


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file of the project: where it goes (relative, POSIX) and its exact bytes."""

    path: PurePosixPath
    content: bytes
    executable: bool = False


class TargetState(enum.Enum):
    """What is at the target path before writing."""

    MISSING = "missing"
    EMPTY_DIR = "empty directory"
    NON_EMPTY_DIR = "non-empty directory"
    FILE = "file"
    SYMLINK = "symlink"


def inspect_target(target: Path, *, force: bool) -> TargetState:
    """Say what is at `target`, refusing what `--force` is needed for."""
    parent = target.parent
    if not parent.is_dir():
        raise ScaffoldError(f"the parent directory {str(parent)!r} does not exist")
    if target.is_symlink():
        if not force:
            raise ScaffoldError(
                f"{str(target)!r} is a symlink; refusing to write through it "
                "(--force replaces the link itself, never what it points to)"
            )
        return TargetState.SYMLINK
    if not target.exists():
        return TargetState.MISSING
    if not target.is_dir():
        if not force:
            raise ScaffoldError(
                f"{str(target)!r} exists and is not a directory (--force replaces it)"
            )
        return TargetState.FILE
    if any(target.iterdir()):
        if not force:
            raise ScaffoldError(
                f"{str(target)!r} is not empty (--force writes into it; "
                "files the template does not produce are kept)"
            )
        return TargetState.NON_EMPTY_DIR
    return TargetState.EMPTY_DIR


def _check_paths_inside(target: Path, files: Sequence[PlannedFile]) -> list[PurePosixPath]:
    """Before writing into an existing directory, make sure no path goes through a symlink or
    lands on a directory; returns the paths that will be overwritten."""
    overwritten: list[PurePosixPath] = []
    for planned in files:
        current = target
        for part in planned.path.parts[:-1]:
            current = current / part
            if current.is_symlink():
                raise ScaffoldError(f"{str(current)!r} is a symlink; refusing to write through it")
            if current.exists() and not current.is_dir():
                raise ScaffoldError(f"{str(current)!r} exists and is not a directory")
        dest = target / planned.path
        if dest.is_symlink() or dest.exists():
            if dest.is_dir() and not dest.is_symlink():
                raise ScaffoldError(f"{str(dest)!r} is a directory where a file goes")
            overwritten.append(planned.path)
    return overwritten


def existing_paths(plan: Plan) -> list[PurePosixPath]:
    """Files of the plan that already exist in the target (what `--force` would overwrite)."""
    if not plan.target.is_dir() or plan.target.is_symlink():
        return []
    return _check_paths_inside(plan.target, plan.files)


def _write_file(root: Path, planned: PlannedFile) -> None:
    """Write one file under the staging root (a seam the failure tests patch)."""
    dest = root.joinpath(*planned.path.parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(planned.content)
    if planned.executable:
        dest.chmod(dest.stat().st_mode | 0o111)


def _move(src: Path, dest: Path) -> None:
    """Rename within one filesystem (a seam the failure tests patch)."""
    os.replace(src, dest)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What `write` did, for the CLI to report."""

    target: Path
    written: tuple[PurePosixPath, ...]
    overwritten: tuple[PurePosixPath, ...]


def write(plan: Plan, *, force: bool = False) -> WriteResult:
    """Write a rendered plan: stage next to the target, then move into place, all or nothing."""
    target = plan.target
    state = inspect_target(target, force=force)
    overwritten: list[PurePosixPath] = []
    if state in (TargetState.EMPTY_DIR, TargetState.NON_EMPTY_DIR):
        overwritten = _check_paths_inside(target, plan.files)
    staging = _staging_dir(target, ".asgiforge-new")
    try:
        build = staging / "project"
        build.mkdir()
        for planned in plan.files:
            _write_file(build, planned)
        if state is TargetState.MISSING:
            _move(build, target)
        elif state in (TargetState.FILE, TargetState.SYMLINK):
            _replace_entry(build, target, staging)
        else:
            _merge_into(build, target, staging, plan.files)
    except OSError as exc:
        raise ScaffoldError(
            f"writing the project failed, nothing was changed: {exc.strerror or exc}"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return WriteResult(
        target=target,
        written=tuple(f.path for f in plan.files),
        overwritten=tuple(overwritten),
    )


def _replace_entry(build: Path, target: Path, staging: Path) -> None:
    """Swap a file or a symlink (the link itself) for the built directory, undoing on failure."""
    aside = staging / "replaced"
    _move(target, aside)
    try:
        _move(build, target)
    except BaseException:
        os.replace(aside, target)
        raise


def _merge_into(
    build: Path,
    target: Path,
    staging: Path,
    files: Sequence[PlannedFile],
    deletes: Sequence[PurePosixPath] = (),
) -> None:
    """Move each built file into an existing directory (and move `deletes` out), keeping
    backups to roll back on failure."""
    backups = staging / "backups"
    backups.mkdir()
    created_dirs: list[Path] = []
    moved: list[tuple[Path, Path | None]] = []  # (destination, its backup)
    restored: list[tuple[Path, Path]] = []  # deleted files and their backups
    try:
        for index, planned in enumerate(files):
            dest = target.joinpath(*planned.path.parts)
            for parent in _missing_parents(target, dest):
                parent.mkdir()
                created_dirs.append(parent)
            backup: Path | None = None
            if dest.is_symlink() or dest.exists():
                backup = backups / str(index)
                _move(dest, backup)
            moved.append((dest, backup))
            _move(build.joinpath(*planned.path.parts), dest)
        for index, rel in enumerate(deletes, start=len(files)):
            dest = target.joinpath(*rel.parts)
            if dest.is_symlink() or dest.exists():
                backup = backups / str(index)
                _move(dest, backup)
                restored.append((dest, backup))
    except BaseException:
        for dest, backup in reversed(restored):
            with contextlib.suppress(OSError):
                os.replace(backup, dest)
        for dest, backup in reversed(moved):
            if backup is None:
                with contextlib.suppress(OSError):
                    dest.unlink()
            else:
                with contextlib.suppress(OSError):
                    os.replace(backup, dest)
        for directory in reversed(created_dirs):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def apply_changes(
    target: Path, files: Sequence[PlannedFile], deletes: Sequence[PurePosixPath] = ()
) -> None:
    """Write and delete files of an existing project all or nothing (what `update` uses).

    Files are staged next to the project first; then each is moved into place with the old one
    kept as a backup, and any failure puts every backup back.
    """
    _check_paths_inside(target, files)
    _check_paths_inside(target, [PlannedFile(path=p, content=b"") for p in deletes])
    staging = _staging_dir(target, ".asgiforge-update")
    try:
        build = staging / "project"
        build.mkdir()
        for planned in files:
            _write_file(build, planned)
        _merge_into(build, target, staging, files, deletes)
    except OSError as exc:
        raise ScaffoldError(
            f"writing the project failed, nothing was changed: {exc.strerror or exc}"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _missing_parents(target: Path, dest: Path) -> Iterator[Path]:
    missing: list[Path] = []
    parent = dest.parent
    while parent != target and not parent.exists():
        missing.append(parent)
        parent = parent.parent
    yield from reversed(missing)


def _staging_dir(target: Path, suffix: str) -> Path:
    """A fresh directory beside `target`, on its file system, so the final move is one rename."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent))
    except OSError as exc:
        raise ScaffoldError(
            f"cannot create a staging directory next to {str(target)!r}: {exc}"
        ) from exc
