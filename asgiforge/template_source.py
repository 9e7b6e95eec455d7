"""Where a template comes from: a built-in name, a local folder, or a git repository at a ref.

`asgiforge new --template` accepts three spellings, told apart here once so that `new` and
`update` agree:

- a built-in name (`minimal`, `api`...): the templates shipped inside asgiforge;
- `git+URL[@REF]` (`git+https://host/org/tpl.git@v2`, `git+file:///srv/tpl`), or a local path
  that is the top of a git repository: cloned with the `git` command into a temporary folder and
  checked out at REF (default: the repository's HEAD), so only *committed* content is rendered and
  the commit can be recorded and rendered again later by `asgiforge update`;
- any other local folder holding a `template.toml`: rendered as it is (not versioned, so a project
  made from it cannot be updated).

`git` is run with an argument list (never a shell), `--` before user-given URLs, and with
`protocol.ext.allow=never` so a URL cannot make git run a command.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from asgiforge.errors import ScaffoldError, UsageError

GIT_PREFIX = "git+"
GIT_TIMEOUT = 300.0
_SAFE_REF = re.compile(r"[A-Za-z0-9._/+-]+\Z")


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """A resolved `--template` value, as recorded in the answers file."""

    kind: str
    """`"builtin"`, `"path"` (an unversioned folder) or `"git"`."""
    location: str
    """The built-in name, the folder's absolute path, or the repository URL/path given to git."""
    ref: str = ""
    """The ref asked for (`--vcs-ref` or `@REF`); empty means the repository's HEAD."""

    @property
    def display(self) -> str:
        if self.kind == "git":
            return f"{GIT_PREFIX}{self.location}" + (f"@{self.ref}" if self.ref else "")
        return self.location


def _check_ref(ref: str) -> str:
    if not _SAFE_REF.match(ref) or ref.startswith("-") or ".." in ref:
        raise UsageError(f"--vcs-ref {ref!r} is not a valid git ref name")
    return ref


def is_git_repository(path: Path) -> bool:
    """True when `path` is the top of a git work tree (or a bare repository)."""
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


def resolve(spec: str, *, vcs_ref: str | None, builtin_names: list[str]) -> TemplateSource:
    """Classify a `--template` value; nothing is fetched yet."""
    ref = _check_ref(vcs_ref) if vcs_ref else ""
    if spec.startswith(GIT_PREFIX):
        url = spec[len(GIT_PREFIX) :]
        # `@REF` after the last path segment (`user@host:` forms keep their `@`).
        head, at, tail = url.rpartition("@")
        if at and "/" not in tail and ":" not in tail and head and "/" in head:
            url = head
            ref = ref or _check_ref(tail)
        if not url or url.startswith("-"):
            raise UsageError(f"--template {spec!r} has no repository URL after 'git+'")
        return TemplateSource(kind="git", location=url, ref=ref)
    if spec in builtin_names and vcs_ref is None:
        return TemplateSource(kind="builtin", location=spec)
    looks_like_path = os.sep in spec or "/" in spec or spec.startswith(".") or Path(spec).is_dir()
    if looks_like_path:
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise UsageError(f"the template folder {spec!r} does not exist")
        absolute = str(path.resolve())
        if is_git_repository(path):
            return TemplateSource(kind="git", location=absolute, ref=ref)
        if vcs_ref is not None:
            raise UsageError(f"--vcs-ref needs a git repository; {spec!r} is a plain folder")
        if not (path / "template.toml").is_file():
            raise UsageError(f"the folder {spec!r} has no template.toml, so it is not a template")
        return TemplateSource(kind="path", location=absolute)
    if vcs_ref is not None and spec in builtin_names:
        raise UsageError("--vcs-ref applies to git templates, not to built-in ones")
    raise UsageError(
        f"unknown template {spec!r}; choose one of: {', '.join(builtin_names)}, "
        "or give a folder, a git repository path or git+URL"
    )


def _git(args: list[str], *, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "LC_ALL": "C",
    }
    command = ["git", "-c", "protocol.ext.allow=never", "-c", "core.symlinks=true", *args]
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise ScaffoldError(
            "git templates need the 'git' command, which is not installed"
        ) from None
    except subprocess.TimeoutExpired:
        raise ScaffoldError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from None
    if result.returncode != 0:
        detail = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        raise ScaffoldError(f"git {args[0]} failed: {detail}")
    return result.stdout.strip()


@dataclass(frozen=True, slots=True)
class Checkout:
    """A template folder ready to render, with the commit it came from (git sources)."""

    root: Path
    commit: str = ""


@contextlib.contextmanager
def checkout(
    source: TemplateSource, builtin_dir: Path, *, ref: str | None = None
) -> Iterator[Checkout]:
    """Make the template's files available for the duration of the block.

    Git sources are cloned into a temporary folder removed afterwards; `ref` overrides the
    source's own (`asgiforge update` renders the recorded commit and the new ref in turn).
    """
    if source.kind == "builtin":
        yield Checkout(root=builtin_dir / source.location)
        return
    if source.kind == "path":
        yield Checkout(root=Path(source.location))
        return
    wanted = ref if ref is not None else source.ref
    work = Path(tempfile.mkdtemp(prefix="asgiforge-template-"))
    try:
        clone = work / "template"
        _git(["clone", "--quiet", "--no-checkout", "--", source.location, str(clone)])
        if wanted:
            commit = _resolve_commit(clone, wanted)
        else:
            commit = _git(["rev-parse", "--verify", "HEAD^{commit}"], cwd=clone)
        _git(["checkout", "--quiet", "--detach", commit], cwd=clone)
        shutil.rmtree(clone / ".git", ignore_errors=True)
        yield Checkout(root=clone, commit=commit)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _resolve_commit(clone: Path, ref: str) -> str:
    for candidate in (ref, f"origin/{ref}", f"refs/tags/{ref}"):
        with contextlib.suppress(ScaffoldError):
            return _git(["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"], cwd=clone)
    raise ScaffoldError(f"the template repository has no branch, tag or commit {ref!r}")
