"""answers: the `.asgiforge-answers.toml` every project records, read back exactly."""

from __future__ import annotations

from pathlib import Path

from asgiforge import scaffold
from tests.test_scaffold import HOSTILE


def test_the_answers_file_round_trips(tmp_path: Path) -> None:
    from asgiforge import answers

    plan = scaffold.plan_project(
        "demo-app", template="minimal", target=tmp_path / "p", options={"description": HOSTILE}
    )
    (tmp_path / "p").mkdir()
    recorded = {str(f.path): f.content for f in plan.files}[answers.ANSWERS_FILE]
    (tmp_path / "p" / answers.ANSWERS_FILE).write_bytes(recorded)
    loaded = answers.load(tmp_path / "p")
    assert loaded.source.kind == "builtin" and loaded.source.location == "minimal"
    assert loaded.name == "demo-app"
    assert loaded.answers["description"] == HOSTILE
    assert loaded.bundled is True
