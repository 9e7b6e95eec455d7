"""Project generation behind `asgiforge new`: validate, render in memory, then write atomically.

The work is split so that nothing touches the disk until everything that can fail cheaply has
failed: the name is validated (`validate_name`), the answers are resolved (`resolve_answers`), the
whole project is rendered into memory (`render`), the target is inspected (`inspect_target`) and
only then `write` renders the files into a staging directory *next to* the target and moves them
into place. A failure at any point leaves the user's files exactly as they were.

Around this module: `template_source` resolves `--template` (built-in, folder, git) and clones,
`answers` reads and writes the project's answers file, `bundle` provides a wheel of the running
asgiforge, `literals` the `py`/`toml` filters, `staged_write` the all-or-nothing writing (its
names are re-exported here), and `updater` builds `asgiforge update` on top of all of them.

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

import dataclasses
import functools
import keyword
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from asgiforge import __version__, bundle, template_source
from asgiforge import answers as answers_file
from asgiforge.errors import ScaffoldError, UntrustedTemplateError, UsageError

# Re-exported: `asgiforge.scaffold` stays the one import for callers (the CLI, tests, scripts).
from asgiforge.literals import py_assignment as py_assignment
from asgiforge.literals import py_literal as py_literal
from asgiforge.literals import toml_literal as toml_literal
from asgiforge.staged_write import PlannedFile as PlannedFile
from asgiforge.staged_write import TargetState as TargetState
from asgiforge.staged_write import WriteResult as WriteResult
from asgiforge.staged_write import apply_changes as apply_changes
from asgiforge.staged_write import existing_paths as existing_paths
from asgiforge.staged_write import inspect_target as inspect_target
from asgiforge.staged_write import write as write
from asgiforge.template_source import TemplateSource

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
    """One value a template asks for: prompted on a TTY, else `--data key=value` or default."""

    key: str
    prompt: str
    default: str
    choices: tuple[str, ...] = ()
    pattern: str = ""
    """A regular expression the whole answer must match (empty: anything)."""


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
    tasks: tuple[tuple[str, ...], ...] = ()
    """Commands (argument lists) run in the new project, only once the user trusts them."""
    excluded: frozenset[Path] = frozenset()
    """Folders inside the template's own layer that are not project files (its other layers)."""
    bundle_asgiforge: bool = False
    """Put a wheel of the running asgiforge into `wheels/` when it did not come from an index."""
    root: Path | None = None
    """The template's own folder (its `template.toml` lives here)."""

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


def _questions(data: Mapping[str, Any], where: Path) -> list[Question]:
    raw = data.get("questions", [])
    if not isinstance(raw, list):
        raise ScaffoldError(f"{where}: 'questions' must be an array of tables ([[questions]])")
    questions: list[Question] = []
    for q in raw:
        if not isinstance(q, dict) or not _OPTION_KEY.match(str(q.get("key", ""))):
            raise ScaffoldError(f"{where}: every question needs a key made of letters, digits, _")
        key = str(q["key"])
        if key in RESERVED_CONTEXT_KEYS:
            raise ScaffoldError(f"{where}: question {key!r} would hide the built-in value {key!r}")
        choices = q.get("choices", [])
        if not isinstance(choices, list):
            raise ScaffoldError(f"{where}: question {key!r}: 'choices' must be an array")
        pattern = str(q.get("pattern", ""))
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ScaffoldError(f"{where}: question {key!r}: bad pattern: {exc}") from None
        questions.append(
            Question(
                key=key,
                prompt=str(q.get("prompt", key)),
                default=str(q.get("default", "")),
                choices=tuple(str(c) for c in choices),
                pattern=pattern,
            )
        )
    return questions


def _tasks(data: Mapping[str, Any], where: Path) -> tuple[tuple[str, ...], ...]:
    raw = data.get("tasks", [])
    if not isinstance(raw, list):
        raise ScaffoldError(f"{where}: 'tasks' must be an array of commands")
    tasks: list[tuple[str, ...]] = []
    for task in raw:
        if isinstance(task, str):
            try:
                argv = tuple(shlex.split(task))
            except ValueError as exc:
                raise ScaffoldError(f"{where}: task {task!r} cannot be parsed: {exc}") from None
        elif isinstance(task, list) and all(isinstance(a, str) for a in task):
            argv = tuple(task)
        else:
            raise ScaffoldError(f"{where}: each task is a string or an array of strings")
        if not argv:
            raise ScaffoldError(f"{where}: a task is empty")
        tasks.append(argv)
    return tuple(tasks)


def _layout(data: Mapping[str, Any], name: str) -> str:
    layout = str(data.get("layout", "package"))
    if layout not in ("package", "module"):
        raise ScaffoldError(f"template {name!r} has an unknown layout {layout!r}")
    return layout


@functools.cache
def _load(name: str) -> TemplateInfo:
    root = TEMPLATES_DIR / name
    data = _read_toml(root / "template.toml")
    base = _read_toml(TEMPLATES_DIR / BASE_LAYER / "template.toml")
    extra = [str(layer) for layer in data.get("layers", ())]
    layers = [TEMPLATES_DIR / BASE_LAYER, *(TEMPLATES_DIR / layer for layer in extra), root]
    questions: dict[str, Question] = {}
    for q in [*_questions(base, TEMPLATES_DIR / BASE_LAYER), *_questions(data, root)]:
        questions[q.key] = q
    return TemplateInfo(
        name=name,
        summary=str(data.get("summary", "")),
        features=tuple(str(f) for f in data.get("features", ())),
        layout=_layout(data, name),
        layers=tuple(layers),
        questions=tuple(questions.values()),
        tasks=_tasks(data, root),
        bundle_asgiforge=bool(base.get("bundle_asgiforge", data.get("bundle_asgiforge", False))),
        root=root,
    )


def load_folder(root: Path, name: str) -> TemplateInfo:
    """Load a template that is not built in: `root/template.toml` and the files beside it.

    Its `layers` are folders *inside* `root` (rendered first, in order, then `root` itself minus
    those folders); a layer that is absolute, climbs out with `..` or is a symlink is refused, so
    an untrusted template cannot make us read files from elsewhere.
    """
    data = _read_toml(root / "template.toml")
    real_root = root.resolve()
    layers: list[Path] = []
    excluded: set[Path] = set()
    raw_layers = data.get("layers", [])
    if not isinstance(raw_layers, list):
        raise ScaffoldError(f"{root / 'template.toml'}: 'layers' must be an array of folders")
    for entry in raw_layers:
        rel = PurePosixPath(str(entry))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in str(entry):
            raise ScaffoldError(
                f"the template layer {str(entry)!r} is not a folder inside the template"
            )
        layer = root.joinpath(*rel.parts)
        if any(root.joinpath(*rel.parts[: i + 1]).is_symlink() for i in range(len(rel.parts))):
            raise ScaffoldError(f"the template layer {str(entry)!r} is a symlink; refusing it")
        if not layer.is_dir() or not layer.resolve().is_relative_to(real_root):
            raise ScaffoldError(f"the template layer {str(entry)!r} is not a folder inside it")
        layers.append(layer)
        excluded.add(Path(*rel.parts))
    layers.append(root)
    return TemplateInfo(
        name=name,
        summary=str(data.get("summary", "")),
        features=tuple(str(f) for f in data.get("features", ())),
        layout=_layout(data, name),
        layers=tuple(layers),
        questions=tuple(_questions(data, root / "template.toml")),
        tasks=_tasks(data, root / "template.toml"),
        excluded=frozenset(excluded),
        bundle_asgiforge=bool(data.get("bundle_asgiforge", False)),
        root=root,
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


def parse_options(pairs: Sequence[str], flag: str = "--data") -> dict[str, str]:
    """Turn repeated `--data key=value` strings into a mapping (the last one wins)."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not _OPTION_KEY.match(key):
            raise UsageError(f"{flag} expects key=value, got {pair!r}")
        options[key] = value
    return options


def read_data_file(path: Path) -> dict[str, str]:
    """Answers from a TOML file: a flat table of `key = value`, or an answers file's `[answers]`.

    Another project's `.asgiforge-answers.toml` therefore works as a `--data-file` as it is.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"--data-file {str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--data-file {str(path)!r} is not valid TOML: {exc}") from None
    table = data.get("answers", data) if isinstance(data.get("answers"), dict) else data
    answers: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict | list):
            continue  # other tables of an answers file ([template], [project])
        if not _OPTION_KEY.match(key):
            raise UsageError(f"--data-file {str(path)!r}: {key!r} is not a question key")
        answers[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return answers


def _check_answer(question: Question, value: str) -> str:
    if question.choices and value not in question.choices:
        raise UsageError(
            f"question {question.key!r} must be one of {', '.join(question.choices)}; got {value!r}"
        )
    if len(value) > MAX_ANSWER_LENGTH:
        raise UsageError(f"question {question.key!r} is longer than {MAX_ANSWER_LENGTH} characters")
    if _ANSWER_CONTROL.search(value):
        raise UsageError(f"question {question.key!r} contains a control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"question {question.key!r} is not valid Unicode text") from None
    if question.pattern and not re.fullmatch(question.pattern, value):
        raise UsageError(
            f"question {question.key!r} must match {question.pattern!r}; got {value!r}"
        )
    return value


def resolve_answers(
    template: TemplateInfo,
    options: Mapping[str, str],
    ask: Callable[[Question], str] | None = None,
    *,
    recorded: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Pick each question's value: `--data` first, then a `recorded` answer (`update`), then
    `ask` (a TTY prompt) or the default. Every value is validated, recorded ones included."""
    known = {q.key for q in template.questions}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(
            f"unknown question {unknown[0]!r} for template {template.name!r}; "
            f"its questions: {', '.join(sorted(known)) or 'none'}"
        )
    answers: dict[str, str] = {}
    for question in template.questions:
        if question.key in options:
            value = options[question.key]
        elif recorded is not None and question.key in recorded:
            value = recorded[question.key]
        elif ask is not None:
            value = ask(question)
        else:
            value = question.default
        answers[question.key] = _check_answer(question, value)
    return answers


# --------------------------------------------------------------------------------- rendering


@dataclass(frozen=True, slots=True)
class Plan:
    """A fully rendered project, not yet written: what `--dry-run` shows and `write` writes."""

    project: ProjectName
    template: TemplateInfo
    target: Path
    files: tuple[PlannedFile, ...]
    context: Mapping[str, str]
    source: TemplateSource | None = None
    """Where the template came from (set once the answers file is added)."""
    commit: str = ""

    @property
    def app_target(self) -> str:
        return self.template.app_target(self.project.package)


def _environment(layers: Sequence[Path]) -> Any:
    """Jinja's sandboxed environment: a template (possibly someone else's) can compute strings
    but not reach Python internals (`''.__class__...`) to run code outside its `tasks`."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(p) for p in reversed(layers)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # Code, not HTML: user values reach files only through the `py`/`toml` literal filters.
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py_literal
    env.filters["toml"] = toml_literal
    env.globals["py_assign"] = py_assignment
    return env


def _source_files(template: TemplateInfo) -> dict[PurePosixPath, Path]:
    """Relative template path → source file; a later layer overrides an earlier one.

    Symlinks (files or folders) are refused rather than followed: a template could otherwise
    copy any file of the machine into the project.
    """
    found: dict[PurePosixPath, Path] = {}
    for layer in template.layers:
        own = layer == template.root
        for dirpath, dirnames, filenames in os.walk(layer):
            here = Path(dirpath)
            for d in dirnames:
                if (here / d).is_symlink():
                    raise ScaffoldError(f"the template folder {here / d} is a symlink; refusing it")
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in ("__pycache__", ".git")
                and not (own and (here / d).relative_to(layer) in template.excluded)
            )
            for filename in sorted(filenames):
                source = here / filename
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
            or rendered.startswith("~")
            or "/" in rendered
            or "\\" in rendered
            or _CONTROL.search(rendered)
        ):
            raise ScaffoldError(f"the template path {str(rel)!r} renders to an unsafe name")
        segments.append(rendered)
    return PurePosixPath(*segments)


@dataclass(frozen=True, slots=True)
class Install:
    """How the generated project gets asgiforge (see `asgiforge.bundle`)."""

    version: str = __version__
    bundled: bool = False
    """True: `asgiforge==version` from a wheel in `wheels/`; False: `asgiforge>=version`."""
    wheel: PlannedFile | None = None
    """The bundled wheel's file (None when re-rendering an old version for `update`)."""

    @property
    def spec(self) -> str:
        return f"=={self.version}" if self.bundled else f">={self.version}"

    @property
    def find_links(self) -> str:
        """The pip option the README and Dockerfile add (empty when nothing is bundled)."""
        return f"--find-links {bundle.WHEELS_DIR}" if self.bundled else ""


def asgiforge_install(*, bundled: bool) -> Install:
    """Decide how a project depends on asgiforge: normally, or on a wheel shipped inside it."""
    if not bundled or bundle.from_index():
        return Install()
    wheel = bundle.running_wheel()
    path = PurePosixPath(bundle.WHEELS_DIR, wheel.filename)
    return Install(bundled=True, wheel=PlannedFile(path=path, content=wheel.content))


def build_context(
    project: ProjectName,
    template: TemplateInfo,
    answers: Mapping[str, str],
    install: Install | None = None,
) -> dict[str, str]:
    """Everything a template can use; all values are strings passed as data."""
    install = install or Install()
    return {
        **answers,
        "name": project.name,
        "slug": project.slug,
        "package": project.package,
        "k8s_name": project.k8s_name,
        "template": template.name,
        "app_target": template.app_target(project.package),
        "asgiforge_version": install.version,
        "asgiforge_spec": install.spec,
        "pip_find_links": install.find_links,
        "wheels_dir": bundle.WHEELS_DIR if install.bundled else "",
    }


#: Names the context always has; a question may not take one of them.
RESERVED_CONTEXT_KEYS = frozenset(
    {
        "name",
        "slug",
        "package",
        "k8s_name",
        "template",
        "app_target",
        "asgiforge_version",
        "asgiforge_spec",
        "pip_find_links",
        "wheels_dir",
    }
)


def render(
    project: ProjectName,
    template: TemplateInfo,
    answers: Mapping[str, str],
    target: Path,
    install: Install | None = None,
) -> Plan:
    """Render the whole project into memory; nothing is written."""
    import jinja2

    context = build_context(project, template, answers, install)
    env = _environment(template.layers)
    files: dict[PurePosixPath, PlannedFile] = {}
    for rel, source in _source_files(template).items():
        out = _output_path(env, rel, context)
        if rel.name.endswith(".jinja"):
            try:
                text = env.get_template(rel.as_posix()).render(context)
            except (jinja2.TemplateError, RecursionError) as exc:
                raise ScaffoldError(f"the template file {rel} failed to render: {exc}") from exc
            content = text.encode("utf-8")
        else:
            content = source.read_bytes()
        executable = os.access(source, os.X_OK)
        files[out] = PlannedFile(path=out, content=content, executable=executable)
    if install is not None and install.wheel is not None:
        files[install.wheel.path] = install.wheel
    ordered = tuple(files[p] for p in sorted(files))
    return Plan(project=project, template=template, target=target, files=ordered, context=context)


# ---------------------------------------------------------------------------------- one call


def load_checkout(source: TemplateSource, root: Path) -> TemplateInfo:
    """The template at a resolved source's files (built-ins by name, others by folder)."""
    if source.kind == "builtin":
        return load_template(source.location)
    if not (root / "template.toml").is_file():
        raise ScaffoldError(f"the template {source.display!r} has no template.toml at its root")
    name = source.display if source.kind == "git" else Path(source.location).name
    return load_folder(root, name)


def plan_project(
    name: str,
    *,
    template: str = DEFAULT_TEMPLATE,
    vcs_ref: str | None = None,
    target: Path | None = None,
    options: Mapping[str, str] | None = None,
    ask: Callable[[Question], str] | None = None,
    bundled: bool = True,
) -> Plan:
    """Validate everything and render in memory: the one core call behind `new` and `--dry-run`.

    `template` is a built-in name, a folder or a git source (`asgiforge.template_source`); a git
    template is cloned for the duration of this call only. The plan includes the answers file.
    """
    project = validate_name(name)
    source = template_source.resolve(template, vcs_ref=vcs_ref, builtin_names=template_names())
    where = Path(target) if target is not None else Path(name)
    with template_source.checkout(source, TEMPLATES_DIR) as checkout:
        info = load_checkout(source, checkout.root)
        answers = resolve_answers(info, options or {}, ask)
        install = asgiforge_install(bundled=bundled and info.bundle_asgiforge)
        plan = render(project, info, answers, Path(os.path.abspath(where)), install)
    record = answers_file.Answers(
        source=source,
        commit=checkout.commit,
        asgiforge_version=__version__,
        name=project.name,
        answers=answers,
        bundled=install.bundled,
    )
    return with_answers_file(plan, record)


def with_answers_file(plan: Plan, record: answers_file.Answers) -> Plan:
    """The plan plus its `.asgiforge-answers.toml`, which a template cannot override."""
    path = PurePosixPath(answers_file.ANSWERS_FILE)
    recorded = PlannedFile(path=path, content=answers_file.dumps(record))
    files = sorted([*(f for f in plan.files if f.path != path), recorded], key=lambda f: f.path)
    return dataclasses.replace(plan, files=tuple(files), source=record.source, commit=record.commit)


# -------------------------------------------------------------------------------------- tasks


def require_trust(template: TemplateInfo, *, trusted: bool) -> None:
    """Refuse, before anything is written, a template with `tasks` the user has not trusted."""
    if template.tasks and not trusted:
        shown = "; ".join(shlex.join(argv) for argv in template.tasks)
        raise UntrustedTemplateError(
            f"the template {template.name!r} wants to run {len(template.tasks)} command(s) "
            f"({shown}); nothing was written: review them and pass --trust to allow them"
        )


def run_tasks(template: TemplateInfo, target: Path, *, output_to_stderr: bool = False) -> None:
    """Run the template's `tasks` in the written project, in order; stop at the first failure.

    Call only after the user confirmed them (a prompt, or `--trust`): a task is any command.
    `output_to_stderr` keeps stdout for a JSON document (`--json`).
    """
    for argv in template.tasks:
        try:
            result = subprocess.run(
                list(argv),
                cwd=target,
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr if output_to_stderr else None,
                check=False,
            )
        except OSError as exc:
            raise ScaffoldError(
                f"the project was written, but task {shlex.join(argv)!r} could not start: "
                f"{exc.strerror or exc}"
            ) from None
        if result.returncode != 0:
            raise ScaffoldError(
                f"the project was written, but task {shlex.join(argv)!r} failed "
                f"with exit status {result.returncode}"
            )
