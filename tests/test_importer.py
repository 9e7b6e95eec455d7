"""Finding and importing the app: every resolution path and every error message a user sees."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgiforge.errors import AppImportError, AppNotFoundError, UsageError
from asgiforge.importer import load_app, resolve_target
from asgiforge.server.options import AppTarget

APP_SOURCE = "async def app(scope, receive, send):\n    pass\n"


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    """Each test imports modules named main/app from its own tmp dir: forget them afterwards."""
    modules = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path


def write(root: Path, relative: str, text: str = APP_SOURCE) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- resolution ------------------------------------------------------------------------------


def test_module_attr(tmp_path: Path) -> None:
    write(tmp_path, "svc.py")
    target = resolve_target("svc:app", app_dir=tmp_path)
    assert target == AppTarget("svc:app", tmp_path.resolve(), False)
    assert callable(load_app(target))


def test_module_alone_means_attribute_app(tmp_path: Path) -> None:
    write(tmp_path, "svc2.py")
    assert resolve_target("svc2", app_dir=tmp_path).import_string == "svc2:app"


def test_factory_call_syntax(tmp_path: Path) -> None:
    write(tmp_path, "fac.py", APP_SOURCE + "def create():\n    return app\n")
    target = resolve_target("fac:create()", app_dir=tmp_path)
    assert target.factory and target.import_string == "fac:create"
    assert load_app(target).__name__ == "app"


def test_file_path_inside_package_maps_to_dotted_module(tmp_path: Path) -> None:
    write(tmp_path, "src/pkgx/__init__.py", "")
    write(tmp_path, "src/pkgx/api/__init__.py", "")
    write(tmp_path, "src/pkgx/api/web.py", "from . import helper\n" + APP_SOURCE)
    write(tmp_path, "src/pkgx/api/helper.py", "")
    target = resolve_target("src/pkgx/api/web.py:app", app_dir=tmp_path)
    assert target.import_string == "pkgx.api.web:app"
    assert target.app_dir == (tmp_path / "src").resolve()
    assert callable(load_app(target))  # relative import works


def test_pyproject_declares_app_with_src_layout(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.asgiforge]\napp = "pkgy.app:app"\n')
    write(tmp_path, "src/pkgy/__init__.py", "")
    write(tmp_path, "src/pkgy/app.py")
    sub = tmp_path / "src" / "pkgy"
    target = resolve_target(None, app_dir=sub)  # found by walking up
    assert target == AppTarget("pkgy.app:app", (tmp_path / "src").resolve())
    assert callable(load_app(target))


def test_pyproject_flat_layout(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.asgiforge]\napp = "pkgz.app:app"\n')
    write(tmp_path, "pkgz/__init__.py", "")
    write(tmp_path, "pkgz/app.py")
    assert resolve_target(None, app_dir=tmp_path).app_dir == tmp_path.resolve()


@pytest.mark.parametrize(
    ("files", "expected", "subdir"),
    [
        (["main.py", "app.py"], "main:app", ""),
        (["app.py"], "app:app", ""),
        (["app/__init__.py", "app/main.py"], "app.main:app", ""),
        (["src/shop/__init__.py", "src/shop/app.py"], "shop.app:app", "src"),
    ],
)
def test_conventions(tmp_path: Path, files: list[str], expected: str, subdir: str) -> None:
    for f in files:
        write(tmp_path, f)
    write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    target = resolve_target(None, app_dir=tmp_path)
    assert target.import_string == expected
    assert target.app_dir == (tmp_path / subdir).resolve()


# --- errors: each says exactly what was tried -------------------------------------------------


def test_nothing_found_lists_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError) as info:
        resolve_target(None, app_dir=tmp_path)
    message = str(info.value)
    assert "no application found" in message
    assert "main.py" in message and "app/main.py" in message and "src/<pkg>/" in message


def test_missing_module(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match=r"no module 'nosuchmod'"):
        load_app(resolve_target("nosuchmod:app", app_dir=tmp_path))


def test_missing_parent_package(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match=r"no module 'nopkg\.app'.*no module 'nopkg'"):
        load_app(resolve_target("nopkg.app:app", app_dir=tmp_path))


def test_missing_attribute_suggests_candidates(tmp_path: Path) -> None:
    write(tmp_path, "noattr.py", "def create_app():\n    pass\n")
    with pytest.raises(AppNotFoundError) as info:
        load_app(resolve_target("noattr", app_dir=tmp_path))
    assert str(info.value) == "module 'noattr' has no attribute 'app' (it has create_app)"


def test_import_error_inside_user_code_is_not_a_missing_module(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "import not_installed_dependency\n")
    with pytest.raises(AppImportError) as info:
        load_app(resolve_target("broken:app", app_dir=tmp_path))
    assert str(info.value) == (
        "the import of 'broken' failed: "
        "ModuleNotFoundError: No module named 'not_installed_dependency'"
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "syn.py", "x = 1\ndef broken(:\n")
    with pytest.raises(AppImportError) as info:
        load_app(resolve_target("syn:app", app_dir=tmp_path))
    assert "the import of 'syn' failed: SyntaxError" in str(info.value)
    assert f"{path}, line 2" in str(info.value)


def test_exception_at_import_time(tmp_path: Path) -> None:
    write(tmp_path, "boom.py", "raise RuntimeError('database down')\n")
    with pytest.raises(AppImportError, match=r"failed: RuntimeError: database down$"):
        load_app(resolve_target("boom:app", app_dir=tmp_path))


def test_factory_raising(tmp_path: Path) -> None:
    write(tmp_path, "facboom.py", "def make():\n    raise ValueError('no config')\n")
    with pytest.raises(AppImportError, match=r"calling the factory 'facboom:make\(\)' failed"):
        load_app(resolve_target("facboom:make()", app_dir=tmp_path))


def test_not_an_application(tmp_path: Path) -> None:
    write(tmp_path, "notapp.py", "app = 42\n")
    with pytest.raises(AppNotFoundError, match=r"'notapp:app' is a int, not an ASGI application"):
        load_app(resolve_target("notapp:app", app_dir=tmp_path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match=r"no file 'web/nothere\.py'"):
        resolve_target("web/nothere.py:app", app_dir=tmp_path)


def test_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match="is not module:attr"):
        resolve_target("my-app:app", app_dir=tmp_path)
    with pytest.raises(AppNotFoundError, match="not a valid attribute name"):
        resolve_target("mod:1bad", app_dir=tmp_path)


def test_app_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(AppNotFoundError, match="is not a directory"):
        resolve_target("m:app", app_dir=tmp_path / "nope")


def test_bad_pyproject_value(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.asgiforge]\napp = 3\n")
    with pytest.raises(AppNotFoundError, match="must be a non-empty string"):
        resolve_target(None, app_dir=tmp_path)


def test_env_file_loaded_before_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASGIFORGE_TEST_GREETING", "")  # restored (unset) after the test
    monkeypatch.delenv("ASGIFORGE_TEST_GREETING")
    env = write(tmp_path, ".env", "ASGIFORGE_TEST_GREETING=hello\n")
    write(
        tmp_path,
        "envapp.py",
        "import os\nGREETING = os.environ['ASGIFORGE_TEST_GREETING']\n" + APP_SOURCE,
    )
    load_app(resolve_target("envapp:app", app_dir=tmp_path, env_file=env))
    assert sys.modules["envapp"].GREETING == "hello"
    with pytest.raises(UsageError, match="does not exist"):
        resolve_target("envapp:app", app_dir=tmp_path, env_file=tmp_path / "missing.env")
