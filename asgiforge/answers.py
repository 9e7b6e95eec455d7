"""The answers file: what made a project, so `asgiforge update` can make it again.

Every generated project gets `.asgiforge-answers.toml` at its root:

    # Written by asgiforge; `asgiforge update` reads it. Edit answers here, not the template source.
    [template]
    source = "git+https://example.com/tpl.git"   # or a built-in name, or a folder
    kind = "git"                                   # builtin | path | git
    ref = "v1"                                     # the ref asked for ("" = HEAD)
    commit = "3f1c..."                             # what it resolved to (git)
    asgiforge_version = "0.1.0"                    # the asgiforge that rendered it
    bundled_wheel = true                           # asgiforge installs from wheels/

    [project]
    name = "my-app"

    [answers]
    description = "..."

It is written as data through the TOML literal filter, so any answer round-trips exactly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asgiforge.errors import ScaffoldError
from asgiforge.literals import toml_literal
from asgiforge.template_source import TemplateSource

ANSWERS_FILE = ".asgiforge-answers.toml"


@dataclass(frozen=True, slots=True)
class Answers:
    source: TemplateSource
    commit: str
    asgiforge_version: str
    name: str
    answers: Mapping[str, str] = field(default_factory=dict)
    bundled: bool = False
    """The project installs asgiforge from a wheel in `wheels/` (see `asgiforge.bundle`)."""


def _toml(value: str) -> str:
    return toml_literal(value)


def dumps(record: Answers) -> bytes:
    lines = [
        "# Written by asgiforge; `asgiforge update` reads it to bring this project forward.",
        "[template]",
        f"source = {_toml(record.source.location)}",
        f"kind = {_toml(record.source.kind)}",
        f"ref = {_toml(record.source.ref)}",
        f"commit = {_toml(record.commit)}",
        f"asgiforge_version = {_toml(record.asgiforge_version)}",
        f"bundled_wheel = {'true' if record.bundled else 'false'}",
        "",
        "[project]",
        f"name = {_toml(record.name)}",
        "",
        "[answers]",
        *(f"{key} = {_toml(value)}" for key, value in sorted(record.answers.items())),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def load(project: Path) -> Answers:
    """Read a project's answers file, refusing one that is missing or malformed."""
    path = project / ANSWERS_FILE
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ScaffoldError(
            f"{str(project)!r} has no {ANSWERS_FILE}; only projects made by asgiforge new "
            "can be updated"
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScaffoldError(f"{str(path)!r} is unreadable: {exc}") from None
    template = data.get("template")
    project_table = data.get("project")
    answers = data.get("answers", {})
    if (
        not isinstance(template, dict)
        or not isinstance(project_table, dict)
        or not isinstance(answers, dict)
    ):
        raise ScaffoldError(f"{str(path)!r} lacks its [template], [project] or [answers] table")
    kind = str(template.get("kind", ""))
    if kind not in ("builtin", "path", "git"):
        raise ScaffoldError(f"{str(path)!r}: unknown template kind {kind!r}")
    return Answers(
        source=TemplateSource(
            kind=kind, location=str(template.get("source", "")), ref=str(template.get("ref", ""))
        ),
        commit=str(template.get("commit", "")),
        asgiforge_version=str(template.get("asgiforge_version", "")),
        name=str(project_table.get("name", "")),
        answers={str(k): str(v) for k, v in answers.items()},
        bundled=template.get("bundled_wheel") is True,
    )
