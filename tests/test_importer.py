"""Finding and importing the app: every resolution path and every error message a user sees."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from asgiforge.errors import AppImportError, AppNotFoundError, SourceFrame, UsageError
from asgiforge.importer import USER_FRAMES, load_app, resolve_target
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


def test_one_letter_module_is_a_module_not_a_drive_letter(tmp_path: Path) -> None:
    write(tmp_path, "m.py", APP_SOURCE + "other = app\n")
    target = resolve_target("m:other", app_dir=tmp_path)
    assert target.import_string == "m:other"
    assert load_app(target).__name__ == "app"


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


def test_missing_module_is_found_missing_without_running_user_code(tmp_path: Path) -> None:
    # The package exists and would raise if imported: resolving must not import it.
    write(tmp_path, "pkgq/__init__.py", "raise RuntimeError('imported')\n")
    write(tmp_path, "pkgq/real.py")
    with pytest.raises(AppNotFoundError) as info:
        resolve_target("pkgq.nothere:app", app_dir=tmp_path)
    assert str(info.value) == (
        f"no module 'pkgq.nothere' (looked in {tmp_path.resolve()} and sys.path)"
    )
    assert "pkgq" not in sys.modules
    assert resolve_target("pkgq.real:app", app_dir=tmp_path).import_string == "pkgq.real:app"
    assert "pkgq" not in sys.modules


def test_namespace_package_and_sys_path_modules_are_found(tmp_path: Path) -> None:
    write(tmp_path, "nsq/sub/web.py")  # no __init__.py anywhere: namespace packages
    assert resolve_target("nsq.sub.web", app_dir=tmp_path).import_string == "nsq.sub.web:app"
    assert callable(load_app(resolve_target("nsq.sub.web", app_dir=tmp_path)))
    # Not in app_dir but importable from sys.path (an installed package): found too.
    assert resolve_target("xmlrpc.client:app", app_dir=tmp_path).import_string == (
        "xmlrpc.client:app"
    )
    with pytest.raises(AppNotFoundError, match=r"no module 'xmlrpc\.nothere'"):
        resolve_target("xmlrpc.nothere:app", app_dir=tmp_path)


def test_a_package_that_extends_its_path_is_left_to_the_import(tmp_path: Path) -> None:
    # Its submodules may live anywhere once __init__ has run: only the import can tell.
    write(tmp_path, "extq/__init__.py", "__path__.append('/somewhere/else')\n")
    assert resolve_target("extq.later:app", app_dir=tmp_path).import_string == "extq.later:app"
    with pytest.raises(AppNotFoundError, match=r"no module 'extq\.later'"):
        load_app(resolve_target("extq.later:app", app_dir=tmp_path))


def test_import_error_inside_user_code_is_not_a_missing_module(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", "import not_installed_dependency\n")
    with pytest.raises(AppImportError) as info:
        load_app(resolve_target("broken:app", app_dir=tmp_path))
    assert str(info.value) == (
        "the import of 'broken' failed: "
        f"ModuleNotFoundError: No module named 'not_installed_dependency' ({path}, line 1)"
    )
    assert info.value.frames == (
        SourceFrame(str(path), 1, "<module>", "import not_installed_dependency"),
    )
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "syn.py", "x = 1\ndef broken(:\n")
    with pytest.raises(AppImportError) as info:
        load_app(resolve_target("syn:app", app_dir=tmp_path))
    assert str(info.value) == (
        f"the import of 'syn' failed: SyntaxError: invalid syntax ({path}, line 2)"
    )
    assert info.value.frames == (SourceFrame(str(path), 2, "", "def broken(:"),)


def test_exception_at_import_time(tmp_path: Path) -> None:
    write(tmp_path, "boom.py", "raise RuntimeError('database down')\n")
    with pytest.raises(
        AppImportError, match=r"failed: RuntimeError: database down \(.*boom\.py, line 1\)$"
    ):
        load_app(resolve_target("boom:app", app_dir=tmp_path))


def test_import_error_points_at_the_users_frames_only(tmp_path: Path) -> None:
    # Raised inside the standard library (os.environ), five user frames deep, under importlib:
    # the message names the user's innermost line; the frames are the user's last few.
    settings = write(
        tmp_path,
        "settingsq.py",
        "import os\n\n"
        "def level4():\n    return os.environ['ASGIFORGE_TEST_UNSET_VARIABLE']\n"
        "def level3():\n    return level4()\n"
        "def level2():\n    return level3()\n"
        "def load():\n    return level2()\n",
    )
    main = write(tmp_path, "mainq.py", "import settingsq\n\nCONFIG = settingsq.load()\n")
    with pytest.raises(AppImportError) as info:
        load_app(resolve_target("mainq:app", app_dir=tmp_path))
    assert str(info.value) == (
        "the import of 'mainq' failed: KeyError: 'ASGIFORGE_TEST_UNSET_VARIABLE' "
        f"({settings}, line 4)"
    )
    frames = info.value.frames
    assert len(frames) == USER_FRAMES
    assert [(f.file, f.line, f.function) for f in frames] == [
        (str(settings), 8, "level2"),
        (str(settings), 6, "level3"),
        (str(settings), 4, "level4"),
    ]
    assert frames[-1].source == "return os.environ['ASGIFORGE_TEST_UNSET_VARIABLE']"
    assert str(main) not in {f.file for f in frames}  # outer frames beyond the last few: dropped


def test_paths_below_the_working_directory_are_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "relq.py", "x = 1\nraise ValueError('bad')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AppImportError, match=r"ValueError: bad \(relq\.py, line 2\)$") as info:
        load_app(resolve_target("relq:app", app_dir=tmp_path))
    assert info.value.frames == (SourceFrame("relq.py", 2, "<module>", "raise ValueError('bad')"),)


def test_factory_raising(tmp_path: Path) -> None:
    path = write(tmp_path, "facboom.py", "def make():\n    raise ValueError('no config')\n")
    with pytest.raises(AppImportError) as info:
        load_app(resolve_target("facboom:make()", app_dir=tmp_path))
    assert str(info.value) == (
        f"calling the factory 'facboom:make()' failed: ValueError: no config ({path}, line 2)"
    )
    assert [f.function for f in info.value.frames] == ["make"]


def test_not_an_application(tmp_path: Path) -> None:
    write(tmp_path, "notapp.py", "app = 42\nnothing = None\n")
    with pytest.raises(AppNotFoundError) as info:
        load_app(resolve_target("notapp:app", app_dir=tmp_path))
    assert str(info.value) == "'notapp:app' is an int (42), not an ASGI application"
    with pytest.raises(AppNotFoundError) as info:
        load_app(resolve_target("notapp:nothing", app_dir=tmp_path))
    assert str(info.value) == "'notapp:nothing' is None, not an ASGI application"


def test_factory_that_is_not_callable_or_returns_no_app(tmp_path: Path) -> None:
    write(tmp_path, "facnot.py", "settings = 'x' * 100\ndef make():\n    return [1]\n")
    with pytest.raises(AppNotFoundError) as info:
        load_app(resolve_target("facnot:settings", app_dir=tmp_path, factory=True))
    assert str(info.value) == (
        "--factory: 'facnot:settings' is a str ('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...), "
        "not a function to call"
    )
    with pytest.raises(AppNotFoundError) as info:
        load_app(resolve_target("facnot:make()", app_dir=tmp_path))
    assert str(info.value) == (
        "the factory 'facnot:make()' returned a list ([1]), not an ASGI application"
    )


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
