"""Finding and importing the user's application, shared by `routes`, `dev` and `serve`.

Two steps, kept apart on purpose: `resolve_target` only looks at the file system (cheap, no user
code runs, so a supervisor can resolve once and let each worker import), and `load_app` imports.
Every error names exactly what was tried and tells a missing module apart from an import error
raised *inside* the user's code, because those two need opposite fixes: a module that cannot be
found at all is reported by `resolve_target` already (a typo on the command line, which no edit
of the code can fix), while an error raised by the user's code names the file and line where it
happened and carries the last few of the user's frames, not importlib's or ours.

Resolution order for the APP argument (uvicorn-compatible where uvicorn has an opinion):

1. explicit ``module:attr``, ``module:factory()``, ``module`` (attribute ``app``) or
   ``path/to/file.py[:attr]``;
2. ``[tool.asgiforge] app = "..."`` in the nearest ``pyproject.toml`` at or above ``app_dir``;
3. the conventions ``main.py``, ``app.py``, ``app/main.py``, ``app/__init__.py``,
   ``src/<pkg>/main.py``, ``src/<pkg>/app.py``, ``src/<pkg>/__init__.py``, attribute ``app``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from asgiforge.errors import AppImportError, AppNotFoundError, SourceFrame, UsageError
from asgiforge.server.options import AppTarget

__all__ = ["find_pyproject", "import_module", "load_app", "load_env_file", "resolve_target"]

DEFAULT_ATTR = "app"
# How many of the user's frames an import error carries: enough to see how the failing line was
# reached, few enough to stay a short message.
USER_FRAMES = 3
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# (relative file, module name) tried in order when no APP is given and pyproject names none.
_CONVENTIONS: tuple[tuple[str, str], ...] = (
    ("main.py", "main"),
    ("app.py", "app"),
    ("app/main.py", "app.main"),
    ("app/__init__.py", "app"),
)
_SRC_FILES: tuple[tuple[str, str], ...] = (
    ("main.py", ".main"),
    ("app.py", ".app"),
    ("__init__.py", ""),
)


def resolve_target(
    app: str | None,
    *,
    app_dir: Path = Path("."),
    factory: bool = False,
    env_file: Path | None = None,
) -> AppTarget:
    """Turn the APP argument (or its absence) into an `AppTarget` without importing anything.

    ``module:factory()`` sets ``factory``; a file path is converted to a dotted module name
    rooted at the first directory above it that is not a package, which becomes ``app_dir``.
    A module that cannot be found at all raises `AppNotFoundError` here: the search reads the
    file system only, without running the user's code.
    """
    target = _resolve(app, app_dir, factory, env_file)
    _check_findable(target)
    return target


def _resolve(app: str | None, app_dir: Path, factory: bool, env_file: Path | None) -> AppTarget:
    base = app_dir.expanduser().resolve()
    if not base.is_dir():
        raise AppNotFoundError(f"--app-dir '{app_dir}' is not a directory")
    if env_file is not None and not env_file.is_file():
        raise UsageError(f"--env-file '{env_file}' does not exist")
    if app is not None and app.strip():
        return _from_argument(app.strip(), base, factory, env_file)
    pyproject = find_pyproject(base)
    if pyproject is not None:
        declared = _declared_app(pyproject)
        if declared is not None:
            root = pyproject.parent
            target = _from_argument(declared, root, factory, env_file, origin=str(pyproject))
            return _prefer_src_layout(target, root)
    found = _from_conventions(base)
    if found is not None:
        module, root = found
        return AppTarget(f"{module}:{DEFAULT_ATTR}", root, factory, env_file)
    tried = ", ".join([f for f, _ in _CONVENTIONS] + ["src/<pkg>/" + f for f, _ in _SRC_FILES])
    where = f"{pyproject} has no [tool.asgiforge] app" if pyproject else "no pyproject.toml"
    raise AppNotFoundError(
        f"no application found in {base}: no APP argument, {where}, and none of {tried} exists "
        "(pass APP as module:attr or path/to/file.py:attr)"
    )


def _check_findable(target: AppTarget) -> None:
    """Raise `AppNotFoundError` unless the target's module can be found where it would be imported.

    Looks the module up the way the import will (``app_dir`` first, then sys.path and every
    import hook) but executes nothing: a package's submodule is looked for in the package's
    directories without importing the package. Where that cannot be known without running the
    package (a hook provides it, or its ``__init__`` changes ``__path__``), the import decides.
    """
    import importlib.machinery

    module = target.import_string.partition(":")[0]
    parts = module.split(".")
    if parts[0] in sys.modules:
        return
    spec = importlib.machinery.PathFinder.find_spec(parts[0], [str(target.app_dir)])
    for finder in sys.meta_path if spec is None else ():
        try:
            spec = finder.find_spec(parts[0], None)
        except Exception:  # noqa: S112 - a hook that cannot answer is not an answer
            continue
        if spec is not None:
            break
    if spec is None:
        raise _not_found(module, parts[0], target.app_dir)
    directories = _package_directories(spec, parts[0])
    for depth in range(1, len(parts)):
        if directories is None:
            return
        name = ".".join(parts[: depth + 1])
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, directories)
        except KeyError:
            # Found, as a namespace package below a namespace package: importlib builds its
            # path from the parent module, which is not imported. Its portions are known anyway.
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        if spec is None:
            raise _not_found(module, name, target.app_dir)
        directories = _package_directories(spec, parts[depth], directories)


def _package_directories(
    spec: Any, part: str, parents: list[str] | None = None
) -> list[str] | None:
    """Where the package's submodules live, or None when only importing it would tell."""
    if spec.submodule_search_locations is None:
        return None  # a plain module: the import reports "is not a package"
    if spec.origin is None and parents is not None:
        # A nested namespace package: its portions are the parents' subdirectories of that name.
        return [path for path in (os.path.join(p, part) for p in parents) if os.path.isdir(path)]
    if spec.origin and os.path.basename(spec.origin) == "__init__.py":
        try:
            with open(spec.origin, encoding="utf-8", errors="replace") as file:
                if "__path__" in file.read():
                    return None  # pkgutil.extend_path and the like: known after the import
        except OSError:
            return None
    try:
        return [str(path) for path in spec.submodule_search_locations]
    except Exception:
        return None


def _not_found(module: str, missing: str, app_dir: Path) -> AppNotFoundError:
    detail = f"; no module '{missing}'" if missing != module else ""
    return AppNotFoundError(f"no module '{module}' (looked in {app_dir} and sys.path{detail})")


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above `start`, the way pip and ruff look for it."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _declared_app(pyproject: Path) -> str | None:
    """The ``[tool.asgiforge] app`` string, or None; a malformed file is the user's to fix."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AppNotFoundError(f"cannot read {pyproject}: {exc}") from exc
    section = data.get("tool", {}).get("asgiforge", {})
    value = section.get("app") if isinstance(section, dict) else None
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise AppNotFoundError(f"[tool.asgiforge] app in {pyproject} must be a non-empty string")
    return value.strip()


def _prefer_src_layout(target: AppTarget, root: Path) -> AppTarget:
    """Use ``root/src`` as app_dir when the declared package lives there, not at the root."""
    top = target.import_string.split(":", 1)[0].split(".", 1)[0]
    if _module_exists(root, top) or not _module_exists(root / "src", top):
        return target
    return AppTarget(target.import_string, root / "src", target.factory, target.env_file)


def _module_exists(directory: Path, top: str) -> bool:
    return (directory / top / "__init__.py").is_file() or (directory / f"{top}.py").is_file()


def _from_conventions(base: Path) -> tuple[str, Path] | None:
    for relative, module in _CONVENTIONS:
        if (base / relative).is_file():
            return module, base
    src = base / "src"
    if src.is_dir():
        for package in sorted(p for p in src.iterdir() if (p / "__init__.py").is_file()):
            for filename, suffix in _SRC_FILES:
                if (package / filename).is_file():
                    return package.name + suffix, src
    return None


def _from_argument(
    text: str, base: Path, factory: bool, env_file: Path | None, origin: str = "APP"
) -> AppTarget:
    """Parse one APP string; `origin` names where it came from in error messages."""
    if text.endswith("()"):
        text, factory = text[:-2], True
    module_part, sep, attr = _split(text)
    if not sep:
        attr = DEFAULT_ATTR
    if attr and not _DOTTED.match(attr):
        raise AppNotFoundError(f"{origin} '{text}': '{attr}' is not a valid attribute name")
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        module, root = _module_from_file(base, module_part, origin)
        return AppTarget(f"{module}:{attr}", root, factory, env_file)
    if not _DOTTED.match(module_part):
        raise AppNotFoundError(
            f"{origin} '{text}' is not module:attr, module:factory() or path/to/file.py:attr"
        )
    return AppTarget(f"{module_part}:{attr}", base, factory, env_file)


def _split(text: str) -> tuple[str, str, str]:
    """Split on the last colon that is not part of a Windows drive letter (``C:app.py``).

    Only on Windows: elsewhere ``m:app`` is module ``m``, attribute ``app``.
    """
    module_part, sep, attr = text.rpartition(":")
    drive = os.name == "nt" and len(module_part) == 1 and module_part.isalpha()
    if not sep or drive:
        return text, "", ""
    return module_part, sep, attr


def _module_from_file(base: Path, file_text: str, origin: str) -> tuple[str, Path]:
    """Map a file (or package directory) to a dotted module name and the directory to import from.

    Walks up while the parent is a package, so ``src/pkg/api/app.py`` imports as
    ``pkg.api.app`` with ``src`` on sys.path and relative imports inside the package work.
    """
    path = Path(file_text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if path.is_dir() and (path / "__init__.py").is_file():
        path = path / "__init__.py"
    if not path.is_file():
        raise AppNotFoundError(f"{origin}: no file '{file_text}' (looked for {path})")
    if path.suffix != ".py":
        raise AppNotFoundError(f"{origin}: '{file_text}' is not a Python file")
    parts = [] if path.name == "__init__.py" else [path.stem]
    directory = path.parent
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        parts.insert(0, directory.name)
        directory = directory.parent
    module = ".".join(parts)
    if not module or not _DOTTED.match(module):
        raise AppNotFoundError(f"{origin}: '{file_text}' does not map to an importable module name")
    return module, directory


def load_env_file(path: Path) -> None:
    """Load ``KEY=VALUE`` lines into os.environ (existing variables win, like uvicorn's)."""
    try:
        from dotenv import load_dotenv
    except ImportError as exc:  # pragma: no cover - uvicorn[standard] ships python-dotenv
        raise UsageError("--env-file needs python-dotenv: pip install 'uvicorn[standard]'") from exc
    if not path.is_file():
        raise UsageError(f"--env-file '{path}' does not exist")
    load_dotenv(path, override=False)


def _put_on_sys_path(directory: Path) -> None:
    """Put `directory` first on sys.path, like uvicorn's --app-dir.

    Left in place after the import on purpose: lazy imports inside the app must keep working.
    """
    entry = str(directory)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)


def import_module(module: str, app_dir: Path) -> Any:
    """Import `module`, telling "not there" apart from "raised while importing"."""
    _put_on_sys_path(app_dir)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module or module.startswith(missing + "."):
            raise _not_found(module, missing, app_dir) from exc
        raise _import_error(f"the import of '{module}' failed", exc) from exc
    except Exception as exc:  # SyntaxError included: anything the user's module raised
        raise _import_error(f"the import of '{module}' failed", exc) from exc


def _import_error(what: str, exc: BaseException) -> AppImportError:
    """``WHAT: Type: message (file, line N)`` and the user's last frames, innermost last.

    The location is written the way Python's own tracebacks and SyntaxError messages write it.
    """
    frames = _user_frames(exc)
    description = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        # The offending line is not a frame of the traceback: the compiler reports it.
        source = (exc.text or "").strip()
        frames = [SourceFrame(_display_path(exc.filename), exc.lineno, "", source)]
        description = f"SyntaxError: {exc.msg}"
    where = f" ({frames[-1].file}, line {frames[-1].line})" if frames else ""
    return AppImportError(f"{what}: {description}{where}", frames[-USER_FRAMES:])


def _user_frames(exc: BaseException) -> list[SourceFrame]:
    """The frames of `exc`'s traceback that are the user's code, outermost first.

    Not the user's: importlib's bootstrap, asgiforge itself, the standard library and installed
    packages. When none is left (an app installed into site-packages), every frame but
    importlib's and asgiforge's counts, so the error still points somewhere.
    """
    import traceback

    stack = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<") and not _is_ours(frame.filename)
    ]
    installed = _installed_prefixes()
    users = [frame for frame in stack if not frame.filename.startswith(installed)] or stack
    return [
        SourceFrame(_display_path(f.filename), f.lineno or 0, f.name, (f.line or "").strip())
        for f in users
    ]


def _is_ours(filename: str) -> bool:
    package = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(filename).startswith(package + os.sep)


def _installed_prefixes() -> tuple[str, ...]:
    """Directories of the standard library and installed packages, each ending in a separator."""
    import sysconfig

    paths = sysconfig.get_paths()
    found = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    return tuple(os.path.join(os.path.abspath(path), "") for path in found)


def _display_path(filename: str) -> str:
    """A path relative to the working directory when it lies below it: short and clickable."""
    path = os.path.abspath(filename)
    cwd = os.path.join(os.getcwd(), "")
    return path[len(cwd) :] if path.startswith(cwd) else path


def _kind(obj: Any) -> str:
    """``None``, or the type with its article and a short repr: ``an int (42)``."""
    if obj is None:
        return "None"
    name = type(obj).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    try:
        shown = repr(obj)
    except Exception:  # the user's __repr__ is not ours to debug here
        shown = "?"
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{article} {name} ({shown})"


def load_app(target: AppTarget) -> Any:
    """Import the target and return the ASGI application (calling the factory if asked).

    Raises `AppNotFoundError` when the module or attribute does not exist, and `AppImportError`
    (with the original exception as ``__cause__``) when the user's code raised.
    """
    if target.env_file is not None:
        load_env_file(target.env_file)
    module_name, _, attr = target.import_string.partition(":")
    attr = attr or DEFAULT_ATTR
    app_dir = target.app_dir.expanduser().resolve()
    module = import_module(module_name, app_dir)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            candidates = _asgi_candidates(module) if obj is module else []
            hint = f" (it has {', '.join(candidates)})" if candidates else ""
            raise AppNotFoundError(f"module '{module_name}' has no attribute '{attr}'{hint}")
        obj = getattr(obj, part)
    if target.factory:
        if not callable(obj):
            raise AppNotFoundError(
                f"--factory: '{target.import_string}' is {_kind(obj)}, not a function to call"
            )
        try:
            obj = obj()
        except Exception as exc:
            what = f"calling the factory '{target.import_string}()' failed"
            raise _import_error(what, exc) from exc
        if not callable(obj):
            raise AppNotFoundError(
                f"the factory '{target.import_string}()' returned {_kind(obj)}, "
                "not an ASGI application"
            )
    if not callable(obj):
        raise AppNotFoundError(f"'{target.import_string}' is {_kind(obj)}, not an ASGI application")
    return obj


def _asgi_candidates(module: Any) -> list[str]:
    """Names in `module` that look like an app or a factory, to suggest in the error."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, type):
            continue
        if hasattr(value, "routes") or (
            callable(value) and name in {"create_app", "make_app", "get_app", "application"}
        ):
            names.append(name)
    return names[:5]
