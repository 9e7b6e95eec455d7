"""The scaffold core: names, literal filters, rendering rules, and the all-or-nothing write."""

from __future__ import annotations

import ast
import os
import re
import stat
import tomllib
from pathlib import Path

import pytest

from asgiforge import scaffold, staged_write
from asgiforge.errors import ScaffoldError, UntrustedTemplateError, UsageError

HOSTILE = "{{ 7*7 }} {% if x %}\"double\" 'single' \\back\\slash\nnew line\ttab \u2028 é 🚀"


def snapshot(root: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under root (not following links): kind plus content or link target."""
    found: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = Path(dirpath, entry)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", "")
            else:
                found[rel] = ("file", path.read_bytes())
    return found


# ------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "slug", "package", "k8s"),
    [
        ("my-app", "my-app", "my_app", "my-app"),
        ("My.Service__x", "my-service-x", "my_service_x", "my-service-x"),
        ("a", "a", "a", "a"),
        ("x" * 64, "x" * 64, "x" * 64, "x" * 63),
    ],
)
def test_names_are_derived(name: str, slug: str, package: str, k8s: str) -> None:
    project = scaffold.validate_name(name)
    assert (project.name, project.slug, project.package, project.k8s_name) == (
        name,
        slug,
        package,
        k8s,
    )


def test_control_characters_are_never_echoed_raw() -> None:
    with pytest.raises(UsageError) as info:
        scaffold.validate_name("evil\x1b[31mred")
    assert "\x1b" not in str(info.value)
    assert "\\x1b" in str(info.value)


# ---------------------------------------------------------------------------------- literals


@pytest.mark.parametrize("value", [HOSTILE, "", "\x00\x7f\x85", '"""', "\\", "\U0001f600\ud7ff"])
def test_py_literal_round_trips(value: str) -> None:
    literal = scaffold.py_literal(value)
    assert ast.literal_eval(literal) == value
    assert "\n" not in literal


@pytest.mark.parametrize("value", [HOSTILE, "", "\x00\x7f\x85", '"""', "\\", "\U0001f600"])
def test_toml_literal_round_trips(value: str) -> None:
    assert tomllib.loads(f"key = {scaffold.toml_literal(value)}")["key"] == value


# ---------------------------------------------------------------------------------- rendering


@pytest.fixture
def custom_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private templates directory with a `_base` layer and one template `t`."""
    root = tmp_path / "templates"
    base = root / "_base"
    base.mkdir(parents=True)
    (base / "template.toml").write_text(
        '[[questions]]\nkey = "description"\nprompt = "d"\ndefault = "base default"\n'
    )
    (base / "dot-gitignore").write_text("{{ not_rendered }}\n")
    (base / "shared.txt").write_text("from base\n")
    t = root / "t"
    (t / "{{ package }}").mkdir(parents=True)
    (t / "template.toml").write_text('summary = "test"\nlayout = "package"\n')
    (t / "{{ package }}" / "app.py.jinja").write_text(
        "NAME = {{ name|py }}\nD = {{ description|py }}\n"
    )
    (t / "{{ package }}" / "page.html").write_text("{{ request }}\n")
    (t / "shared.txt").write_text("from template\n")
    monkeypatch.setattr(scaffold, "TEMPLATES_DIR", root)
    scaffold._load.cache_clear()
    yield root
    scaffold._load.cache_clear()


def _files(plan: scaffold.Plan) -> dict[str, bytes]:
    return {str(f.path): f.content for f in plan.files}


def test_only_jinja_files_are_rendered(custom_templates: Path, tmp_path: Path) -> None:
    plan = scaffold.plan_project("demo", template="t", target=tmp_path / "out")
    files = _files(plan)
    assert files["demo/app.py"] == b'NAME = "demo"\nD = "base default"\n'
    assert files["demo/page.html"] == b"{{ request }}\n"  # copied verbatim
    assert files[".gitignore"] == b"{{ not_rendered }}\n"  # dot- prefix mapped, not rendered
    assert files["shared.txt"] == b"from template\n"  # the template overrides its base layer
    assert "template.toml" not in files


def test_user_values_render_literally(custom_templates: Path, tmp_path: Path) -> None:
    plan = scaffold.plan_project(
        "demo", template="t", target=tmp_path / "out", options={"description": HOSTILE}
    )
    source = _files(plan)["demo/app.py"].decode()
    namespace: dict[str, object] = {}
    exec(compile(source, "app.py", "exec"), namespace)
    assert namespace["D"] == HOSTILE
    assert "49" not in source


def test_an_undefined_variable_is_an_error(custom_templates: Path, tmp_path: Path) -> None:
    (custom_templates / "t" / "broken.txt.jinja").write_text("{{ nope }}")
    with pytest.raises(ScaffoldError, match=re.escape("broken.txt.jinja failed to render")):
        scaffold.plan_project("demo", template="t", target=tmp_path / "out")


def test_template_names_are_not_paths() -> None:
    with pytest.raises(UsageError, match=re.escape("unknown template '../minimal'")):
        scaffold.load_template("../minimal")
    with pytest.raises(UsageError, match="unknown template '_base'"):
        scaffold.load_template("_base")


@pytest.mark.parametrize("template", scaffold.template_names())
def test_every_template_parses_with_hostile_values(template: str, tmp_path: Path) -> None:
    options = {"description": HOSTILE, "author": 'O\'Neil "the" \\ author'}
    plan = scaffold.plan_project("x-app", template=template, target=tmp_path / "p", options=options)
    files = _files(plan)
    assert {".gitignore", ".env.example", "Dockerfile", "README.md", "pyproject.toml"} <= set(files)
    assert {"k8s/deployment.yaml", "k8s/service.yaml"} <= set(files)
    pyproject = tomllib.loads(files["pyproject.toml"].decode())
    assert pyproject["project"]["description"] == HOSTILE
    assert pyproject["project"]["authors"] == [{"name": options["author"]}]
    assert pyproject["tool"]["asgiforge"]["app"] == plan.app_target
    for path, content in files.items():
        if path.endswith(".py"):
            ast.parse(content.decode(), filename=path)
    assert "/healthz" in files["k8s/deployment.yaml"].decode()
    assert "/readyz" in files["k8s/deployment.yaml"].decode()


def test_unknown_and_invalid_options_are_refused() -> None:
    info = scaffold.load_template("minimal")
    with pytest.raises(UsageError, match="unknown question 'colour' for template 'minimal'"):
        scaffold.resolve_answers(info, {"colour": "red"})
    with pytest.raises(
        UsageError, match=re.escape("question 'python_version' must be one of 3.11, 3.12, 3.13")
    ):
        scaffold.resolve_answers(info, {"python_version": "2.7"})
    with pytest.raises(UsageError, match="question 'description' contains a control character"):
        scaffold.resolve_answers(info, {"description": "bell\x07"})
    with pytest.raises(UsageError, match="--data expects key=value, got 'novalue'"):
        scaffold.parse_options(["novalue"])


def test_ask_is_used_for_questions_without_an_option() -> None:
    info = scaffold.load_template("minimal")
    asked: list[str] = []

    def ask(question: scaffold.Question) -> str:
        asked.append(question.key)
        return question.choices[0] if question.choices else f"answer {question.key}"

    answers = scaffold.resolve_answers(info, {"author": "given"}, ask)
    assert answers["author"] == "given"
    assert answers["description"] == "answer description"
    assert answers["python_version"] == "3.11"
    assert "author" not in asked


# ------------------------------------------------------------------------------------ writing


def _plan(target: Path) -> scaffold.Plan:
    return scaffold.plan_project("demo-app", template="api", target=target)


def test_write_creates_the_project_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "demo-app"
    result = scaffold.write(_plan(target))
    assert (target / "demo_app" / "app.py").is_file()
    assert set(result.written) == {f.path for f in _plan(target).files}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["demo-app"]  # no staging left behind


def test_an_empty_directory_is_filled(tmp_path: Path) -> None:
    target = tmp_path / "here"
    target.mkdir()
    scaffold.write(_plan(target))
    assert (target / "pyproject.toml").is_file()


@pytest.mark.parametrize("kind", ["non-empty", "file", "symlink"])
def test_existing_targets_are_refused_without_force(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "demo-app"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if kind == "non-empty":
        target.mkdir()
        (target / "mine.txt").write_text("keep me")
    elif kind == "file":
        target.write_text("a file")
    else:
        target.symlink_to(elsewhere)
    before = snapshot(tmp_path)
    with pytest.raises(ScaffoldError, match="--force"):
        scaffold.write(_plan(target))
    assert snapshot(tmp_path) == before


def test_force_merges_and_keeps_other_files(tmp_path: Path) -> None:
    target = tmp_path / "demo-app"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    (target / "README.md").write_text("old readme")
    result = scaffold.write(_plan(target), force=True)
    assert (target / "mine.txt").read_text() == "keep me"
    assert (target / "README.md").read_text().startswith("# demo-app")
    assert [str(p) for p in result.overwritten] == ["README.md"]


def test_force_replaces_a_symlink_not_what_it_points_to(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("untouched")
    target = tmp_path / "demo-app"
    target.symlink_to(elsewhere)
    scaffold.write(_plan(target), force=True)
    assert not target.is_symlink()
    assert (target / "pyproject.toml").is_file()
    assert snapshot(elsewhere) == {"precious.txt": ("file", b"untouched")}


def test_force_never_writes_through_a_symlink_inside_the_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "demo-app"
    target.mkdir()
    (target / "demo_app").symlink_to(outside)
    before = snapshot(tmp_path)
    with pytest.raises(ScaffoldError, match="is a symlink; refusing to write through it"):
        scaffold.write(_plan(target), force=True)
    assert snapshot(tmp_path) == before


def test_a_failure_while_rendering_files_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "demo-app"
    target.mkdir()
    (target / "README.md").write_text("old readme")
    before = snapshot(tmp_path)
    calls = 0
    real = staged_write._write_file

    def failing(root: Path, planned: scaffold.PlannedFile) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError(28, "No space left on device")
        real(root, planned)

    monkeypatch.setattr(staged_write, "_write_file", failing)
    with pytest.raises(ScaffoldError, match="nothing was changed: No space left on device"):
        scaffold.write(_plan(target), force=True)
    assert snapshot(tmp_path) == before


# A fresh target is one rename (fail it); an existing one is a move per file (fail mid-way).
@pytest.mark.parametrize(("existing", "fail_at"), [(True, 8), (False, 1)])
def test_a_failure_while_moving_into_place_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool, fail_at: int
) -> None:
    target = tmp_path / "demo-app"
    if existing:
        target.mkdir()
        (target / "README.md").write_text("old readme")
        (target / "mine.txt").write_text("keep me")
    before = snapshot(tmp_path)
    calls = 0
    real = staged_write._move

    def failing(src: Path, dest: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(5, "Input/output error")
        real(src, dest)

    monkeypatch.setattr(staged_write, "_move", failing)
    with pytest.raises(ScaffoldError, match="nothing was changed"):
        scaffold.write(_plan(target), force=True)
    assert snapshot(tmp_path) == before


def test_a_missing_parent_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match=r"the parent directory .* does not exist"):
        scaffold.write(_plan(tmp_path / "no" / "such" / "demo-app"))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ template sources and answers


def test_a_folder_template_with_layers(tmp_path: Path) -> None:
    root = tmp_path / "tpl"
    (root / "common").mkdir(parents=True)
    (root / "common" / "shared.txt").write_text("common\n")
    (root / "common" / "over.txt").write_text("from layer\n")
    (root / "over.txt").write_text("from template\n")
    (root / "template.toml").write_text(
        'layers = ["common"]\n[[questions]]\nkey = "port"\ndefault = "8000"\npattern = "[0-9]+"\n'
    )
    (root / "port.txt.jinja").write_text("{{ port }}\n")
    plan = scaffold.plan_project("demo", template=str(root), target=tmp_path / "out")
    files = _files(plan)
    assert files["shared.txt"] == b"common\n"
    assert files["over.txt"] == b"from template\n"
    assert files["port.txt"] == b"8000\n"
    assert "common/shared.txt" not in files  # a layer is not copied as a folder
    assert "wheels" not in {p.split("/")[0] for p in files}  # the template did not ask for it
    with pytest.raises(UsageError, match=r"question 'port' must match '\[0-9\]\+'; got 'x'"):
        scaffold.plan_project(
            "demo", template=str(root), target=tmp_path / "out", options={"port": "x"}
        )


def test_questions_may_not_hide_built_in_values(tmp_path: Path) -> None:
    root = tmp_path / "tpl"
    root.mkdir()
    (root / "template.toml").write_text('[[questions]]\nkey = "package"\n')
    with pytest.raises(ScaffoldError, match="question 'package' would hide the built-in value"):
        scaffold.plan_project("demo", template=str(root), target=tmp_path / "out")


def test_data_file_accepts_a_table_or_an_answers_file(tmp_path: Path) -> None:
    flat = tmp_path / "flat.toml"
    flat.write_text('description = "from a file"\nport = 8000\n')
    assert scaffold.read_data_file(flat) == {"description": "from a file", "port": "8000"}
    recorded = tmp_path / "answers.toml"
    recorded.write_text('[template]\nkind = "builtin"\n[answers]\nauthor = "me"\n')
    assert scaffold.read_data_file(recorded) == {"author": "me"}
    broken = tmp_path / "broken.toml"
    broken.write_text("= nope")
    with pytest.raises(UsageError, match="is not valid TOML"):
        scaffold.read_data_file(broken)
    with pytest.raises(UsageError, match="cannot be read"):
        scaffold.read_data_file(tmp_path / "missing.toml")


def test_asgiforge_from_an_index_is_an_ordinary_dependency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgiforge import bundle

    monkeypatch.setattr(bundle, "from_index", lambda: True)
    plan = scaffold.plan_project("demo", template="minimal", target=tmp_path / "p")
    files = _files(plan)
    pyproject = tomllib.loads(files["pyproject.toml"].decode())
    assert pyproject["project"]["dependencies"] == [f"asgiforge>={scaffold.__version__}"]
    assert not any(path.startswith("wheels/") for path in files)
    assert "--find-links" not in files["README.md"].decode()
    assert "RUN pip install .\n" in files["Dockerfile"].decode()


def test_a_source_checkout_bundles_its_own_wheel(tmp_path: Path) -> None:
    from asgiforge import bundle

    assert not bundle.from_index()  # these tests run asgiforge from its source tree
    plan = scaffold.plan_project("demo", template="minimal", target=tmp_path / "p")
    files = _files(plan)
    wheels = [path for path in files if path.startswith("wheels/")]
    assert wheels == [f"wheels/asgiforge-{scaffold.__version__}-py3-none-any.whl"]
    pyproject = tomllib.loads(files["pyproject.toml"].decode())
    assert pyproject["project"]["dependencies"] == [f"asgiforge=={scaffold.__version__}"]
    assert "pip install --find-links wheels -e '.[dev]'" in files["README.md"].decode()
    assert "COPY wheels/ ./wheels/\n" in files["Dockerfile"].decode()
    assert "RUN pip install --find-links wheels .\n" in files["Dockerfile"].decode()


def _documented_example(tmp_path: Path) -> Path:
    """Build the example template of docs/templates.md from the page's own code blocks."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "templates.md").read_text()
    section = doc.split("## A complete example\n", 1)[1]
    root = tmp_path / "worker-template"
    for match in re.finditer(r"^`([^`\n]+)`:\n\n```[a-z]*\n(.*?)^```\n", section, re.M | re.S):
        path = root / match.group(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(match.group(2))
    (root / "dot-gitignore").write_text("__pycache__/\n")
    (root / "{{ package }}" / "__init__.py").write_text("")
    assert {p.name for p in root.iterdir()} >= {"template.toml", "README.md.jinja", "tests"}
    return root


def test_the_documented_example_template_works(tmp_path: Path) -> None:
    import subprocess
    import sys

    template = _documented_example(tmp_path)
    plan = scaffold.plan_project(
        "billing-worker",
        template=str(template),
        target=tmp_path / "billing-worker",
        options={"queue": "billing"},
    )
    with pytest.raises(UsageError, match="question 'queue' must match"):
        scaffold.plan_project("w", template=str(template), options={"queue": "Jobs"})
    scaffold.require_trust(plan.template, trusted=True)
    scaffold.write(plan)
    scaffold.run_tasks(plan.template, plan.target)
    project = tmp_path / "billing-worker"
    assert (project / ".git").is_dir()  # the task ran
    assert (project / ".gitignore").read_text() == "__pycache__/\n"
    assert "Consumes the `billing` queue." in (project / "README.md").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(project)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_a_failing_task_stops_the_list(tmp_path: Path) -> None:
    root = tmp_path / "tpl"
    root.mkdir()
    (root / "template.toml").write_text('tasks = ["false", "touch never"]\n')
    plan = scaffold.plan_project("demo", template=str(root), target=tmp_path / "out")
    with pytest.raises(UntrustedTemplateError, match=r"wants to run 2 command\(s\) \(false; touch"):
        scaffold.require_trust(plan.template, trusted=False)
    scaffold.write(plan)
    with pytest.raises(ScaffoldError, match="the project was written, but task 'false' failed"):
        scaffold.run_tasks(plan.template, plan.target)
    assert not (tmp_path / "out" / "never").exists()
