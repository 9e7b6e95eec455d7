"""Project generation behind `asgiforge new`: validate, render in memory, then write atomically.

The work is split so that nothing touches the disk until everything that can fail cheaply has
failed: the name is validated (`validate_name`), the answers are resolved (`resolve_answers`), the
whole project is rendered into memory (`render`), the target is inspected (`inspect_target`) and
only then `write` renders the files into a staging directory *next to* the target and moves them
into place. A failure at any point leaves the user's files exactly as they were.

Templates live in `asgiforge/templates/<name>/` with a `template.toml`. Directories whose name
starts with `_` are layers shared by several templates (`_base` is under every template; a
template lists more in `layers`). Only `*.jinja` files are rendered (the suffix is stripped); other
files are copied byte for byte, so a generated project's own Jinja pages stay untouched. Path
segments may be templated (`{{ package }}/app.py.jinja`), and a segment starting with `dot-` is
written with a leading `.` (`dot-gitignore` → `.gitignore`) so that dotfiles in our own tree do
not act on our repository.

User values are always passed to Jinja as *data*, never as template source, and templates embed
them through the `py` and `toml` filters, which emit string literals: a description containing
`{{ 7*7 }}`, quotes, backslashes or newlines is written literally and the files still parse.

This module imports neither typer nor rich; it raises `asgiforge.errors` exceptions only.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import keyword
import os
import re
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from asgiforge import __version__
from asgiforge.errors import ScaffoldError, UsageError

TEMPLATES_DIR = Path(__file__).parent / "templates"
BASE_LAYER = "_base"
DEFAULT_TEMPLATE = "minimal"
MAX_NAME_LENGTH = 64
MAX_ANSWER_LENGTH = 1000

#: Import names a generated package must not take: shadowing any of them breaks asgiforge or the
#: generated project's own tooling in the same environment.
RESERVED_IMPORT_NAMES = frozenset(
    {
        "anyio",
        "asgiforge",
        "attr",
        "attrs",
        "certifi",
        "click",
        "dotenv",
        "fastapi",
        "h11",
        "h2",
        "hatchling",
        "httpcore",
        "httptools",
        "httpx",
        "httpx2",
        "idna",
        "iniconfig",
        "itsdangerous",
        "jinja2",
        "markdown_it",
        "markupsafe",
        "mdurl",
        "multipart",
        "mypy",
        "opentelemetry",
        "orjson",
        "outcome",
        "packaging",
        "pip",
        "pluggy",
        "psutil",
        "pygments",
        "pytest",
        "python_multipart",
        "rich",
        "ruff",
        "selenium",
        "setuptools",
        "shellingham",
        "sniffio",
        "sortedcontainers",
        "starlette",
        "trio",
        "typer",
        "typing_extensions",
        "uvicorn",
        "uvloop",
        "watchfiles",
        "websockets",
        "wheel",
        "wsproto",
        "yaml",
    }
)

#: Names Windows will not create as files or directories, whatever the extension.
_WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)

# PEP 508 distribution name: letters, digits, '-', '_', '.', starting and ending alphanumeric.
_DIST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
_SEPARATORS = re.compile(r"[-_.]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ANSWER_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_OPTION_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# --------------------------------------------------------------------------------------- names


@dataclass(frozen=True, slots=True)
class ProjectName:
    """The names derived from what the user typed, each valid where it is used."""

    name: str
    """As typed: the default directory name and the title in the README."""
    slug: str
    """Normalised distribution name (PEP 503), used in pyproject.toml."""
    package: str
    """The import name: `my-app` → `my_app`."""
    k8s_name: str
    """A DNS-1123 label for Kubernetes objects and the container image."""


def validate_name(name: str) -> ProjectName:
    """Check a project name and derive its slug, package and Kubernetes names.

    Each rejection is one line that says what is wrong; the name is shown with `repr` so control
    characters in it cannot reach the terminal.
    """
    if not name or not name.strip():
        raise UsageError("the project name is empty")
    if _CONTROL.search(name):
        raise UsageError(f"the project name {name!r} contains a control character")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"the project name is {len(name)} characters long; at most {MAX_NAME_LENGTH} allowed"
        )
    if "/" in name or "\\" in name or (os.altsep and os.altsep in name):
        raise UsageError(
            f"the project name {name!r} contains a path separator; "
            "give a plain name and choose the location with --dir"
        )
    if ".." in name:
        raise UsageError(f"the project name {name!r} contains '..'")
    if not _DIST_NAME.match(name):
        raise UsageError(
            f"the project name {name!r} is not a valid distribution name: use ASCII letters, "
            "digits, '-', '_' and '.', starting and ending with a letter or digit"
        )
    slug = _SEPARATORS.sub("-", name).lower()
    package = slug.replace("-", "_")
    if not package.isidentifier():
        raise UsageError(
            f"the package name {package!r} is not a valid Python identifier "
            "(it must not start with a digit)"
        )
    if keyword.iskeyword(package):
        raise UsageError(f"the package name {package!r} is a Python keyword")
    if package in sys.stdlib_module_names:
        raise UsageError(
            f"the package name {package!r} would shadow the standard library module {package!r}"
        )
    if package in RESERVED_IMPORT_NAMES:
        raise UsageError(
            f"the package name {package!r} would shadow {package!r}, which asgiforge projects use"
        )
    if package == "tests":
        raise UsageError("the package name 'tests' clashes with the generated tests directory")
    if package in _WINDOWS_DEVICE_NAMES:
        raise UsageError(f"the package name {package!r} is a reserved device name on Windows")
    k8s_name = slug.replace(".", "-")[:63].rstrip("-")
    return ProjectName(name=name, slug=slug, package=package, k8s_name=k8s_name)


# ----------------------------------------------------------------------------------- templates


@dataclass(frozen=True, slots=True)
class Question:
    """One value a template asks for: prompted on a TTY, else `--option key=value` or default."""

    key: str
    prompt: str
    default: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """A template as described by its `template.toml` (and the layers it stands on)."""

    name: str
    summary: str
    features: tuple[str, ...]
    layout: str
    """`"package"` (`<pkg>/app.py`) or `"module"` (one file, `<pkg>.py`)."""
    layers: tuple[Path, ...]
    """Directories rendered in order, later ones overriding earlier paths; the last is its own."""
    questions: tuple[Question, ...] = field(default=())

    def app_target(self, package: str) -> str:
        """The `module:attr` string that `[tool.asgiforge] app` declares."""
        return f"{package}:app" if self.layout == "module" else f"{package}.app:app"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description, the schema of `asgiforge new --list --json`."""
        return {
            "name": self.name,
            "summary": self.summary,
            "features": list(self.features),
            "layout": self.layout,
            "options": [
                {"key": q.key, "prompt": q.prompt, "default": q.default, "choices": list(q.choices)}
                for q in self.questions
            ],
        }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScaffoldError(f"the template description {path} is unreadable: {exc}") from exc


def _questions(data: Mapping[str, Any]) -> list[Question]:
    return [
        Question(
            key=str(q["key"]),
            prompt=str(q.get("prompt", q["key"])),
            default=str(q.get("default", "")),
            choices=tuple(str(c) for c in q.get("choices", ())),
        )
        for q in data.get("questions", ())
    ]


@functools.cache
def _load(name: str) -> TemplateInfo:
    root = TEMPLATES_DIR / name
    data = _read_toml(root / "template.toml")
    base = _read_toml(TEMPLATES_DIR / BASE_LAYER / "template.toml")
    extra = [str(layer) for layer in data.get("layers", ())]
    layers = [TEMPLATES_DIR / BASE_LAYER, *(TEMPLATES_DIR / layer for layer in extra), root]
    questions: dict[str, Question] = {}
    for q in [*_questions(base), *_questions(data)]:
        questions[q.key] = q
    layout = str(data.get("layout", "package"))
    if layout not in ("package", "module"):
        raise ScaffoldError(f"template {name!r} has an unknown layout {layout!r}")
    return TemplateInfo(
        name=name,
        summary=str(data.get("summary", "")),
        features=tuple(str(f) for f in data.get("features", ())),
        layout=layout,
        layers=tuple(layers),
        questions=tuple(questions.values()),
    )


def template_names() -> list[str]:
    """The names of the templates users can pick, sorted (layers starting with `_` excluded)."""
    return sorted(
        p.name
        for p in TEMPLATES_DIR.iterdir()
        if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "template.toml").is_file()
    )


def list_templates() -> list[TemplateInfo]:
    """Every available template, for `asgiforge new --list`."""
    return [_load(name) for name in template_names()]


def load_template(name: str) -> TemplateInfo:
    """Look a template up by name; only names from the list are accepted (no paths)."""
    names = template_names()
    if name not in names:
        raise UsageError(f"unknown template {name!r}; choose one of: {', '.join(names)}")
    return _load(name)


# ------------------------------------------------------------------------------------- answers


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """Turn repeated `--option key=value` strings into a mapping (the last one wins)."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not _OPTION_KEY.match(key):
            raise UsageError(f"--option expects key=value, got {pair!r}")
        options[key] = value
    return options


def _check_answer(question: Question, value: str) -> str:
    if question.choices and value not in question.choices:
        raise UsageError(
            f"option {question.key!r} must be one of {', '.join(question.choices)}; got {value!r}"
        )
    if len(value) > MAX_ANSWER_LENGTH:
        raise UsageError(f"option {question.key!r} is longer than {MAX_ANSWER_LENGTH} characters")
    if _ANSWER_CONTROL.search(value):
        raise UsageError(f"option {question.key!r} contains a control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"option {question.key!r} is not valid Unicode text") from None
    return value


def resolve_answers(
    template: TemplateInfo,
    options: Mapping[str, str],
    ask: Callable[[Question], str] | None = None,
) -> dict[str, str]:
    """Pick each question's value: `--option` first, then `ask` (a TTY prompt) or the default."""
    known = {q.key for q in template.questions}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for template {template.name!r}; "
            f"known options: {', '.join(sorted(known))}"
        )
    answers: dict[str, str] = {}
    for question in template.questions:
        if question.key in options:
            value = options[question.key]
        elif ask is not None:
            value = ask(question)
        else:
            value = question.default
        answers[question.key] = _check_answer(question, value)
    return answers


# --------------------------------------------------------------------------------- rendering


def py_literal(value: object) -> str:
    """A double-quoted Python string literal for `value` that parses back to exactly it."""
    parts = ['"']
    for ch in str(value):
        if ch in '"\\':
            parts.append("\\" + ch)
        elif ch == "\n":
            parts.append("\\n")
        elif ch == "\r":
            parts.append("\\r")
        elif ch == "\t":
            parts.append("\\t")
        elif ch.isprintable():
            parts.append(ch)
        else:
            parts.append(_code_escape(ch))
    parts.append('"')
    return "".join(parts)


def toml_literal(value: object) -> str:
    """A TOML basic string for `value`: quotes, backslashes and control characters escaped."""
    simple = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b"}
    parts = ['"']
    for ch in str(value):
        if ch in simple:
            parts.append(simple[ch])
        elif ch.isprintable():
            parts.append(ch)
        else:
            code = ord(ch)
            parts.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)


def _code_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file of the project: where it goes (relative, POSIX) and its exact bytes."""

    path: PurePosixPath
    content: bytes
    executable: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A fully rendered project, not yet written: what `--dry-run` shows and `write` writes."""

    project: ProjectName
    template: TemplateInfo
    target: Path
    files: tuple[PlannedFile, ...]
    context: Mapping[str, str]

    @property
    def app_target(self) -> str:
        return self.template.app_target(self.project.package)


def _environment(layers: Sequence[Path]) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in reversed(layers)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # Code, not HTML: user values reach files only through the `py`/`toml` literal filters.
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py_literal
    env.filters["toml"] = toml_literal
    return env


def _source_files(layers: Sequence[Path]) -> dict[PurePosixPath, Path]:
    """Relative template path → source file; a later layer overrides an earlier one."""
    found: dict[PurePosixPath, Path] = {}
    for layer in layers:
        for dirpath, dirnames, filenames in os.walk(layer):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for filename in sorted(filenames):
                source = Path(dirpath, filename)
                rel = PurePosixPath(source.relative_to(layer).as_posix())
                if rel == PurePosixPath("template.toml") or filename.endswith(".pyc"):
                    continue
                if source.is_symlink():
                    raise ScaffoldError(f"the template file {source} is a symlink; refusing it")
                found[rel] = source
    return found


def _output_path(env: Any, rel: PurePosixPath, context: Mapping[str, str]) -> PurePosixPath:
    """Render each path segment, strip `.jinja`, map `dot-`; refuse anything that could escape."""
    segments: list[str] = []
    for i, part in enumerate(rel.parts):
        rendered = env.from_string(part).render(context) if "{" in part else part
        if i == len(rel.parts) - 1 and rendered.endswith(".jinja"):
            rendered = rendered[: -len(".jinja")]
        if rendered.startswith("dot-"):
            rendered = "." + rendered[len("dot-") :]
        if (
            rendered in ("", ".", "..")
            or "/" in rendered
            or "\\" in rendered
            or _CONTROL.search(rendered)
        ):
            raise ScaffoldError(f"the template path {str(rel)!r} renders to an unsafe name")
        segments.append(rendered)
    return PurePosixPath(*segments)


def build_context(
    project: ProjectName, template: TemplateInfo, answers: Mapping[str, str]
) -> dict[str, str]:
    """Everything a template can use; all values are strings passed as data."""
    return {
        **answers,
        "name": project.name,
        "slug": project.slug,
        "package": project.package,
        "k8s_name": project.k8s_name,
        "template": template.name,
        "app_target": template.app_target(project.package),
        "asgiforge_version": __version__,
    }


def render(
    project: ProjectName, template: TemplateInfo, answers: Mapping[str, str], target: Path
) -> Plan:
    """Render the whole project into memory; nothing is written."""
    import jinja2

    context = build_context(project, template, answers)
    env = _environment(template.layers)
    files: dict[PurePosixPath, PlannedFile] = {}
    for rel, source in _source_files(template.layers).items():
        out = _output_path(env, rel, context)
        if rel.name.endswith(".jinja"):
            try:
                text = env.get_template(rel.as_posix()).render(context)
            except jinja2.TemplateError as exc:
                raise ScaffoldError(f"the template file {rel} failed to render: {exc}") from exc
            content = text.encode("utf-8")
        else:
            content = source.read_bytes()
        executable = os.access(source, os.X_OK)
        files[out] = PlannedFile(path=out, content=content, executable=executable)
    ordered = tuple(files[p] for p in sorted(files))
    return Plan(project=project, template=template, target=target, files=ordered, context=context)


# ------------------------------------------------------------------------------------ writing


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
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".asgiforge-new", dir=target.parent)
        )
    except OSError as exc:
        raise ScaffoldError(
            f"cannot create a staging directory next to {str(target)!r}: {exc}"
        ) from exc
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


def _merge_into(build: Path, target: Path, staging: Path, files: Sequence[PlannedFile]) -> None:
    """Move each built file into an existing directory, keeping backups to roll back on failure."""
    backups = staging / "backups"
    backups.mkdir()
    created_dirs: list[Path] = []
    moved: list[tuple[Path, Path | None]] = []  # (destination, its backup)
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
    except BaseException:
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


def _missing_parents(target: Path, dest: Path) -> Iterator[Path]:
    missing: list[Path] = []
    parent = dest.parent
    while parent != target and not parent.exists():
        missing.append(parent)
        parent = parent.parent
    yield from reversed(missing)


# ---------------------------------------------------------------------------------- one call


def plan_project(
    name: str,
    *,
    template: str = DEFAULT_TEMPLATE,
    target: Path | None = None,
    options: Mapping[str, str] | None = None,
    ask: Callable[[Question], str] | None = None,
) -> Plan:
    """Validate everything and render in memory: the one core call behind `new` and `--dry-run`."""
    project = validate_name(name)
    info = load_template(template)
    answers = resolve_answers(info, options or {}, ask)
    where = Path(target) if target is not None else Path(name)
    return render(project, info, answers, Path(os.path.abspath(where)))
