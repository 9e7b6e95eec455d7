"""template_source: how a `--template` value is classified (cloning is tested through `new` and
`update` in tests/cli/test_update.py, against local repositories)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asgiforge import scaffold
from asgiforge.errors import UsageError


def test_template_sources_are_classified(tmp_path: Path) -> None:
    from asgiforge.template_source import resolve

    names = scaffold.template_names()
    assert resolve("api", vcs_ref=None, builtin_names=names).kind == "builtin"
    git_source = resolve(
        "git+https://example.com/org/tpl.git@v2", vcs_ref=None, builtin_names=names
    )
    assert (git_source.kind, git_source.location, git_source.ref) == (
        "git",
        "https://example.com/org/tpl.git",
        "v2",
    )
    ssh = resolve("git+git@example.com:org/tpl.git", vcs_ref="main", builtin_names=names)
    assert (ssh.location, ssh.ref) == ("git@example.com:org/tpl.git", "main")
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "template.toml").write_text("")
    assert resolve(str(folder), vcs_ref=None, builtin_names=names).kind == "path"
    (folder / ".git").mkdir()
    assert resolve(str(folder), vcs_ref=None, builtin_names=names).kind == "git"
    with pytest.raises(UsageError, match="--vcs-ref '--upload-pack=x' is not a valid git ref"):
        resolve(str(folder), vcs_ref="--upload-pack=x", builtin_names=names)
    with pytest.raises(UsageError, match=r"has no template\.toml"):
        resolve(str(tmp_path), vcs_ref=None, builtin_names=names)
    with pytest.raises(UsageError, match=r"the template folder '\./missing' does not exist"):
        resolve("./missing", vcs_ref=None, builtin_names=names)
