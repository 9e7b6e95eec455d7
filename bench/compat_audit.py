"""Audit `asgiforge.runtime` against Starlette's public API (names, signatures, methods).

Run with the anchors venv, which has both Starlette and asgiforge installed:

    bench/.venv-anchors/bin/python bench/compat_audit.py [--all]

For every public Starlette module it lists the public names missing from the asgiforge
counterpart (the module's `__all__`, or the names defined at its top level), then, for classes and
functions present in both, differences in signatures (parameter names, kinds, defaults) and in
public methods/properties and the container protocols (`__getitem__`, `__iter__`...).

Only names, signatures and member lists are compared (by introspection); no code is read or copied.
Known, documented differences (docs/compat.md) are printed separately as "accepted" so the report
shows only what still needs a look. Exit status 1 when an unaccepted gap remains.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

MODULES = [
    "applications",
    "authentication",
    "background",
    "concurrency",
    "config",
    "convertors",
    "datastructures",
    "endpoints",
    "exceptions",
    "formparsers",
    "middleware",
    "middleware.authentication",
    "middleware.base",
    "middleware.body_limit",
    "middleware.cors",
    "middleware.errors",
    "middleware.exceptions",
    "middleware.gzip",
    "middleware.httpsredirect",
    "middleware.opentelemetry",
    "middleware.sessions",
    "middleware.trustedhost",
    "middleware.wsgi",
    "requests",
    "responses",
    "routing",
    "schemas",
    "staticfiles",
    "status",
    "templating",
    "testclient",
    "websockets",
    "types",
]

RENAMES = {("applications", "Starlette"): "App"}

# Dunder methods that are part of the user-visible behaviour of a class.
PROTOCOL_DUNDERS = (
    "__getitem__",
    "__setitem__",
    "__delitem__",
    "__contains__",
    "__iter__",
    "__len__",
    "__aiter__",
    "__enter__",
    "__exit__",
    "__aenter__",
    "__aexit__",
    "__call__",
    "__class_getitem__",
    "__or__",
    "__ior__",
    "__await__",
    "__bool__",
    "__str__",
)

# Known differences: (prefix of "module:Name: finding", status, reason). "accepted" ones are
# deliberate and listed in docs/compat.md; "open" ones are real gaps waiting for a decision
# (also in docs/compat.md). Anything else is printed as GAP and makes the exit status 1.
KNOWN: list[tuple[str, str, str]] = [
    (
        "formparsers:FormMessage: __init__",
        "accepted",
        "an Enum as in Starlette (the audit reads the Enum constructor); deprecated, unused",
    ),
    (
        "middleware.gzip:GZipResponder:",
        "accepted",
        "the name Starlette's tests import; the per-request sender behind it is our own",
    ),
    (
        "testclient:TestClient: request(): param",
        "accepted",
        "keyword-only in Starlette; passed to httpx2 unchanged through **kwargs",
    ),
    (
        "routing:Router: 'app' is a method, Starlette's is a async method",
        "accepted",
        "returns the matched route's awaitable (one frame less per request)",
    ),
    (
        "middleware.sessions:SessionMiddleware: instance attribute 'security_flags'",
        "accepted",
        "flags pre-encoded at start-up",
    ),
    (
        "middleware.body_limit:RequestBodyLimitMiddleware: __init__: param 'max_body_size' default",
        "accepted",
        "safer: a 1 MiB default instead of a required argument",
    ),
    ("formparsers:MultipartPart", "accepted", "parser internals"),
    ("formparsers:FormParser: missing method 'on_", "accepted", "parser callbacks"),
    ("formparsers:MultiPartParser: missing method 'on_", "accepted", "parser callbacks"),
    ("formparsers:MultiPartParser: instance attribute 'items'", "accepted", "parser internals"),
    ("middleware.base:AsyncContentStream", "accepted", "internal type alias"),
    ("middleware.base:BodyStreamGenerator", "accepted", "internal type alias"),
    ("middleware.body_limit:RequestBodyLimitResponder", "accepted", "internal helper"),
    ("middleware.cors:CORSMiddleware: missing", "accepted", "internal helpers"),
    ("middleware.cors:CORSMiddleware: instance attribute", "accepted", "pre-encoded headers"),
    ("middleware.errors:", "accepted", "our own error page (templates, frame rendering)"),
    ("middleware.gzip:IdentityResponder", "accepted", "internal helper"),
    ("middleware.gzip:unattached_send", "accepted", "internal helper"),
    ("middleware.wsgi:WSGIResponder", "accepted", "internal helper"),
    ("responses:FileResponse: missing method 'generate_multipart'", "accepted", "internal"),
    (
        "templating:Jinja2Templates: TemplateResponse(): param",
        "accepted",
        "also takes the pre-1.0 (name, context) form, with a DeprecationWarning",
    ),
    ("testclient:TestClient: missing async method", "accepted", "lifespan internals"),
    ("testclient:TestClient: instance attribute 'task'", "accepted", "lifespan internals"),
    ("testclient:TestClient: __exit__()", "accepted", "`with` passes the same arguments"),
    ("testclient:WebSocketTestSession: __exit__()", "accepted", "`with` passes them"),
    ("testclient:WebSocketTestSession: instance attribute", "accepted", "internals"),
    (
        "testclient:WebSocketDenialResponse: __init__",
        "accepted",
        "built by the client, only caught by users",
    ),
]


def classify(finding: str) -> tuple[str, str]:
    for prefix, status, reason in KNOWN:
        if finding.startswith(prefix):
            return status, reason
    return "GAP", ""


def defined_names(module: ModuleType) -> list[str]:
    """The module's public names: `__all__`, else the public top-level definitions in its source."""
    explicit = getattr(module, "__all__", None)
    if explicit is not None:
        return sorted(explicit)
    source = inspect.getsource(module)
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return sorted(name for name in names if not name.startswith("_"))


def is_typevar(value: Any) -> bool:
    return type(value).__name__ in ("TypeVar", "ParamSpec", "TypeVarTuple")


def show_default(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "<required>"
    if isinstance(value, type) or callable(value):
        return getattr(value, "__qualname__", repr(value))
    if type(value).__repr__ is object.__repr__:
        return f"<{type(value).__qualname__} instance>"  # identity differs, kind is what counts
    return repr(value)


def signature_of(obj: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def compare_signatures(ours: Any, theirs: Any) -> list[str]:
    """Differences a caller would notice: names, kinds, defaults (annotations ignored)."""
    sig_ours, sig_theirs = signature_of(ours), signature_of(theirs)
    if sig_theirs is None or sig_ours is None:
        return []
    problems: list[str] = []
    p_ours = {name: p for name, p in sig_ours.parameters.items() if name not in ("self", "cls")}
    p_theirs = {name: p for name, p in sig_theirs.parameters.items() if name not in ("self", "cls")}
    ours_var_kw = any(p.kind is p.VAR_KEYWORD for p in p_ours.values())
    ours_var_pos = any(p.kind is p.VAR_POSITIONAL for p in p_ours.values())
    positional_theirs = [
        n for n, p in p_theirs.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    positional_ours = [
        n for n, p in p_ours.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    for name, theirs_p in p_theirs.items():
        ours_p = p_ours.get(name)
        if ours_p is None:
            if theirs_p.kind is theirs_p.VAR_POSITIONAL and ours_var_pos:
                continue
            if theirs_p.kind is theirs_p.VAR_KEYWORD and ours_var_kw:
                continue
            if theirs_p.kind in (theirs_p.KEYWORD_ONLY, theirs_p.POSITIONAL_OR_KEYWORD) and (
                ours_var_kw
            ):
                problems.append(f"param {name!r} only accepted through **kwargs")
                continue
            problems.append(f"missing param {name!r} ({theirs_p.kind.description})")
            continue
        if ours_p.kind != theirs_p.kind:
            problems.append(
                f"param {name!r} kind {ours_p.kind.description} != {theirs_p.kind.description}"
            )
        if show_default(ours_p.default) != show_default(theirs_p.default):
            problems.append(
                f"param {name!r} default {show_default(ours_p.default)}"
                f" != {show_default(theirs_p.default)}"
            )
    # Positional order matters to callers who pass positionally.
    common = [n for n in positional_theirs if n in positional_ours]
    if common != [n for n in positional_ours if n in positional_theirs]:
        problems.append(f"positional order {positional_ours} != {positional_theirs}")
    for name, ours_p in p_ours.items():
        if name in p_theirs:
            continue
        if ours_p.default is inspect.Parameter.empty and ours_p.kind not in (
            ours_p.VAR_POSITIONAL,
            ours_p.VAR_KEYWORD,
        ):
            problems.append(f"extra REQUIRED param {name!r} (Starlette code would break)")
    return problems


def public_members(cls: type) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name in dir(cls):
        if name.startswith("_") and name not in PROTOCOL_DUNDERS:
            continue
        if name in PROTOCOL_DUNDERS and not any(name in vars(k) for k in cls.__mro__[:-1]):
            continue  # only object's default
        try:
            members[name] = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
    return members


def class_instance_attrs(cls: type) -> set[str]:
    """Attributes an instance gets in __init__ (annotations and slots), for data members."""
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
        slots = getattr(klass, "__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
        init = vars(klass).get("__init__")
        if init is not None:
            try:
                source = inspect.getsource(init)
            except (OSError, TypeError):
                continue
            tree = ast.parse(inspect.cleandoc("\n" + source) if source[0] == " " else source)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                    and isinstance(node.ctx, ast.Store)
                ):
                    names.add(node.attr)
    return {name for name in names if not name.startswith("_")}


def unwrap(member: Any) -> Any:
    if isinstance(member, staticmethod | classmethod):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    return member


def kind_of(member: Any) -> str:
    if isinstance(member, property):
        return "property"
    if isinstance(member, staticmethod):
        return "staticmethod"
    if isinstance(member, classmethod):
        return "classmethod"
    if inspect.isfunction(member):
        return "async method" if inspect.iscoroutinefunction(member) else "method"
    if inspect.isclass(member):
        return "class"
    return "attribute"


def compare_class(ours: type, theirs: type) -> Iterator[str]:
    yield from (f"__init__: {p}" for p in compare_signatures(ours, theirs))
    m_ours, m_theirs = public_members(ours), public_members(theirs)
    attrs_ours = class_instance_attrs(ours)
    for name, member in sorted(m_theirs.items()):
        if name not in m_ours:
            if name in attrs_ours and not callable(unwrap(member)):
                continue
            if name in attrs_ours and isinstance(member, property):
                continue
            yield f"missing {kind_of(member)} {name!r}"
            continue
        k_ours, k_theirs = kind_of(m_ours[name]), kind_of(member)
        sync_async = {k_ours, k_theirs} == {"method", "async method"}
        differs = sync_async or (k_ours != k_theirs and "attribute" not in (k_ours, k_theirs))
        if differs and not {k_ours, k_theirs} <= {"method", "staticmethod", "classmethod"}:
            yield f"{name!r} is a {k_ours}, Starlette's is a {k_theirs}"
        f_ours, f_theirs = unwrap(m_ours[name]), unwrap(member)
        if callable(f_ours) and callable(f_theirs) and not isinstance(member, property):
            if name in ("__init__",):
                continue
            for problem in compare_signatures(f_ours, f_theirs):
                yield f"{name}(): {problem}"
    for name in sorted(class_instance_attrs(theirs) - attrs_ours - set(m_ours)):
        yield f"instance attribute {name!r} not set"


def audit_module(mod: str) -> Iterator[tuple[str, str]]:
    """Yield (key, message) findings for one module."""
    try:
        theirs = importlib.import_module(f"starlette.{mod}")
    except (ImportError, RuntimeError) as exc:
        yield f"{mod}:", f"starlette.{mod} not importable here ({exc}); skipped"
        return
    try:
        ours = importlib.import_module(f"asgiforge.runtime.{mod}")
    except ImportError as exc:
        yield f"{mod}:", f"MODULE MISSING: asgiforge.runtime.{mod} ({exc})"
        return
    for name in defined_names(theirs):
        value = getattr(theirs, name, None)
        if value is None or is_typevar(value):
            continue
        our_name = RENAMES.get((mod, name), name)
        key = f"{mod}:{name}"
        if not hasattr(ours, our_name):
            yield key, f"missing name {our_name!r}"
            continue
        our_value = getattr(ours, our_name)
        if inspect.isclass(value):
            if not inspect.isclass(our_value):
                yield key, f"is a {type(our_value).__name__}, Starlette's is a class"
                continue
            for problem in compare_class(our_value, value):
                yield key, problem
        elif inspect.isfunction(value):
            if inspect.iscoroutinefunction(value) != inspect.iscoroutinefunction(our_value):
                yield key, "sync/async differs"
            for problem in compare_signatures(our_value, value):
                yield key, problem
        elif isinstance(value, int | str | bytes | float) and value != our_value:
            yield key, f"value {our_value!r} != {value!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also print accepted differences")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Starlette's own deprecation notices are not findings
    import starlette

    print(
        f"Starlette {starlette.__version__} vs asgiforge.runtime ({Path(__file__).parent.parent})"
    )
    counts = {"GAP": 0, "open": 0, "accepted": 0}
    for mod in MODULES:
        lines: list[str] = []
        for key, message in audit_module(mod):
            status, reason = classify(f"{key}: {message}")
            counts[status] += 1
            if status == "accepted" and not args.all:
                continue
            suffix = f"  [{reason}]" if reason else ""
            lines.append(f"  {status:9} {key}: {message}{suffix}")
        print(f"{mod:28} {'ok' if not lines else f'{len(lines)} finding(s)'}")
        for line in lines:
            print(line)
    gaps = counts["GAP"]
    print(
        f"\n{gaps} gap(s), {counts['open']} open (known, decision pending), "
        f"{counts['accepted']} accepted difference(s) (see docs/compat.md; --all shows them)"
    )
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
