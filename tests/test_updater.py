"""updater: the per-file decisions of `asgiforge update` that the CLI tests do not reach
(the merge itself is tested end to end in tests/cli/test_update.py)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from asgiforge import updater
from asgiforge.scaffold import PlannedFile


def test_binary_files_changed_on_both_sides_are_conflicts_keeping_the_project(
    tmp_path: Path,
) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG mine \x00\xff")
    rel = PurePosixPath("logo.png")
    old = PlannedFile(path=rel, content=b"\x89PNG v1 \x00\xff")
    new = PlannedFile(path=rel, content=b"\x89PNG v2 \x00\xff")
    change = updater._decide(tmp_path, rel, old, new, ("project", "old", "new"))
    assert change is not None
    assert (change.action, change.content) == ("conflict", None)
    assert change.note == "binary file changed in the project and in the template"


def test_merge_text_counts_conflicts() -> None:
    merged, conflicts = updater.merge_text(
        b"a\nmine\nc\n", b"a\nb\nc\n", b"a\ntheirs\nc\n", ("project", "old", "new")
    )
    assert conflicts == 1
    assert merged == b"a\n<<<<<<< project\nmine\n=======\ntheirs\n>>>>>>> new\nc\n"
    merged, conflicts = updater.merge_text(
        b"mine\nb\nc\n", b"a\nb\nc\n", b"a\nb\ntheirs\n", ("project", "old", "new")
    )
    assert (merged, conflicts) == (b"mine\nb\ntheirs\n", 0)
