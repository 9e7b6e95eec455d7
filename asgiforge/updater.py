"""`asgiforge update`: bring a generated project forward to a newer version of its template.

The project's answers file says which template, at which commit, with which answers made it.
The template is rendered twice in memory: at that recorded version with the recorded answers
(*old*), and at the new version (`--vcs-ref`, default the repository's HEAD) with the same answers
plus any new question (*new*). Each file is then merged three-way with the project as it is now
(*current*), using `git merge-file`, so the template's changes and the project's own edits both
survive. Where they touch the same lines, conflict markers are written and the file is listed.

Per file (o = old render, n = new render, c = the project's file):

- n == o: the template did not change it; the project's file is left alone.
- c == o (or c missing and o missing): the project never changed it; n is written (or deleted).
- c == n: already up to date.
- c missing, o present: the project deleted it; it stays deleted.
- otherwise: `git merge-file c o n` (o empty when the file is new in the template); binary files
  cannot be merged and are reported as conflicts with the project's version kept.

Nothing is written until everything has been decided, and then through
`asgiforge.scaffold.apply_changes` (staged, all or nothing). This module imports neither typer nor
rich.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from asgiforge import __version__, bundle, scaffold, template_source
from asgiforge import answers as answers_file
from asgiforge.errors import ScaffoldError, UsageError

MERGE_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Change:
    """What `update` does to one file."""

    path: PurePosixPath
    action: str
    """`add`, `update`, `merge`, `conflict`, `delete`, or `kept` (the project's version stays)."""
    content: bytes | None = None
    executable: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class UpdatePlan:
    project: Path
    source: template_source.TemplateSource
    old_commit: str
    new_commit: str
    changes: tuple[Change, ...]
    new_questions: tuple[str, ...]

    @property
    def conflicts(self) -> list[PurePosixPath]:
        return [c.path for c in self.changes if c.action == "conflict"]


def _run_git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=MERGE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError:
        raise ScaffoldError(
            "asgiforge update needs the 'git' command; it is not installed"
        ) from None


def dirty_paths(project: Path) -> list[str] | None:
    """Uncommitted changes in the project's git work tree, or None when it is not in one."""
    inside = _run_git(["rev-parse", "--is-inside-work-tree"], project)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    status = _run_git(["status", "--porcelain", "--untracked-files=normal", "--", "."], project)
    if status.returncode != 0:
        raise ScaffoldError(f"git status failed in {str(project)!r}: {status.stderr.strip()}")
    return [line[3:] for line in status.stdout.splitlines() if line.strip()]


def merge_text(
    current: bytes, base: bytes, new: bytes, labels: tuple[str, str, str]
) -> tuple[bytes, int]:
    """Three-way merge with `git merge-file -p`; returns the result and the conflict count."""
    with tempfile.TemporaryDirectory(prefix="asgiforge-merge-") as work:
        paths = []
        for name, content in (("current", current), ("base", base), ("new", new)):
            path = Path(work, name)
            path.write_bytes(content)
            paths.append(str(path))
        label_args = [arg for label in labels for arg in ("-L", label)]
        result = subprocess.run(
            ["git", "merge-file", "-p", *label_args, *paths],
            capture_output=True,
            timeout=MERGE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode < 0 or result.returncode > 127:
        detail = result.stderr.decode(errors="replace").strip()
        raise ScaffoldError(f"git merge-file failed: {detail or result.returncode}")
    return result.stdout, result.returncode


def _is_text(*contents: bytes | None) -> bool:
    for content in contents:
        if content is None:
            continue
        if b"\0" in content:
            return False
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _read_current(project: Path, rel: PurePosixPath) -> bytes | None:
    path = project.joinpath(*rel.parts)
    if path.is_symlink():
        raise ScaffoldError(f"{str(path)!r} is a symlink; refusing to update through it")
    return path.read_bytes() if path.is_file() else None


def _decide(
    project: Path,
    rel: PurePosixPath,
    old: scaffold.PlannedFile | None,
    new: scaffold.PlannedFile | None,
    labels: tuple[str, str, str],
) -> Change | None:
    current = _read_current(project, rel)
    o = old.content if old else None
    n = new.content if new else None
    executable = new.executable if new else False
    if n == o or current == n:
        return None
    if current == o:
        if n is None:
            return Change(rel, "delete")
        return Change(rel, "add" if current is None else "update", n, executable)
    if current is None:
        return Change(rel, "kept", note="deleted in the project; the template's change is skipped")
    if n is None:
        return Change(rel, "kept", note="removed by the template but edited in the project")
    if not _is_text(current, o, n):
        return Change(
            rel, "conflict", note="binary file changed in the project and in the template"
        )
    merged, conflicts = merge_text(current, o or b"", n, labels)
    if conflicts:
        return Change(rel, "conflict", merged, executable, note=f"{conflicts} conflict(s)")
    return Change(rel, "merge", merged, executable)


def plan_update(
    project: Path,
    *,
    vcs_ref: str | None = None,
    options: Mapping[str, str] | None = None,
    ask: Callable[[scaffold.Question], str] | None = None,
    force: bool = False,
) -> UpdatePlan:
    """Decide every change `update` would make; nothing is written."""
    project = Path(os.path.abspath(project))
    if not project.is_dir():
        raise ScaffoldError(f"{str(project)!r} is not a directory")
    record = answers_file.load(project)
    source = record.source
    if vcs_ref is not None and source.kind != "git":
        raise UsageError(f"--vcs-ref needs a git template; this project's is {source.kind}")
    if source.kind == "path":
        raise ScaffoldError(
            f"the template {source.location!r} is a plain folder, not versioned, so the version "
            "that made this project cannot be rendered again; use a git repository as template"
        )
    if source.kind == "builtin" and record.asgiforge_version != __version__:
        raise ScaffoldError(
            f"the project was made by the built-in template of asgiforge "
            f"{record.asgiforge_version}; this is asgiforge {__version__}, which cannot render "
            "that version again (built-in templates are updated with asgiforge itself)"
        )
    if not force:
        dirty = dirty_paths(project)
        if dirty:
            shown = ", ".join(dirty[:3]) + (" ..." if len(dirty) > 3 else "")
            raise ScaffoldError(
                f"the git work tree has uncommitted changes ({shown}); commit or stash them "
                "first, or use --force"
            )
    name = scaffold.validate_name(record.name)
    old_install = scaffold.Install(version=record.asgiforge_version, bundled=record.bundled)
    old_ref = record.commit if source.kind == "git" else None
    with template_source.checkout(source, scaffold.TEMPLATES_DIR, ref=old_ref) as old_checkout:
        old_info = scaffold.load_checkout(source, old_checkout.root)
        old_answers = scaffold.resolve_answers(old_info, {}, recorded=record.answers)
        old_plan = scaffold.render(name, old_info, old_answers, project, old_install)
    new_source = template_source.TemplateSource(
        kind=source.kind, location=source.location, ref=vcs_ref if vcs_ref is not None else ""
    )
    with template_source.checkout(new_source, scaffold.TEMPLATES_DIR) as new_checkout:
        new_info = scaffold.load_checkout(new_source, new_checkout.root)
        new_questions = tuple(q.key for q in new_info.questions if q.key not in record.answers)
        answers = scaffold.resolve_answers(new_info, options or {}, ask, recorded=record.answers)
        bundled = record.bundled or (new_info.bundle_asgiforge and not bundle.from_index())
        install = scaffold.asgiforge_install(bundled=bundled)
        new_plan = scaffold.render(name, new_info, answers, project, install)
    new_record = answers_file.Answers(
        source=new_source,
        commit=new_checkout.commit,
        asgiforge_version=__version__,
        name=record.name,
        answers=answers,
        bundled=install.bundled,
    )
    new_plan = scaffold.with_answers_file(new_plan, new_record)
    managed = {PurePosixPath(answers_file.ANSWERS_FILE)}
    if install.wheel is not None:
        managed.add(install.wheel.path)
    old_files = {f.path: f for f in old_plan.files if f.path not in managed}
    new_files = {f.path: f for f in new_plan.files}
    old_label = record.commit[:12] or record.asgiforge_version
    new_label = new_checkout.commit[:12] or __version__
    labels = ("project", f"template {old_label}", f"template {new_label}")
    changes: list[Change] = []
    for rel in sorted(set(old_files) | set(new_files)):
        if rel in managed:
            planned = new_files[rel]
            if _read_current(project, rel) != planned.content:
                changes.append(Change(rel, "update", planned.content, planned.executable))
            continue
        change = _decide(project, rel, old_files.get(rel), new_files.get(rel), labels)
        if change is not None:
            changes.append(change)
    if record.bundled and install.wheel is not None:
        # The pin moved to the new wheel: the previous one would only sit there unused.
        previous = PurePosixPath(
            bundle.WHEELS_DIR, f"asgiforge-{record.asgiforge_version}-py3-none-any.whl"
        )
        if previous != install.wheel.path and _read_current(project, previous) is not None:
            changes.append(Change(previous, "delete", note="replaced by the new asgiforge wheel"))
    return UpdatePlan(
        project=project,
        source=new_source,
        old_commit=record.commit,
        new_commit=new_checkout.commit,
        changes=tuple(changes),
        new_questions=new_questions,
    )


def apply(plan: UpdatePlan) -> None:
    """Write the plan's changes (conflicted files with their markers), all or nothing."""
    writes = [
        scaffold.PlannedFile(path=c.path, content=c.content, executable=c.executable)
        for c in plan.changes
        if c.content is not None
    ]
    deletes = [c.path for c in plan.changes if c.action == "delete"]
    if writes or deletes:
        scaffold.apply_changes(plan.project, writes, deletes)
