#!/usr/bin/env python3
"""Checks that the code keeps the structure ARCHITECTURE.md promises.

1. Layers: every `crate::<module>` path in the engine (`src/`, outside `src/cli/`) names a
   module on a strictly lower floor of the list under "## Layers" in ARCHITECTURE.md; every
   module is on the list.
2. The invariants that a search can check (each named below with the section it comes from).
3. UI code stays in small pieces: no function in `ui/src/**/*.js` is longer than
   `MAX_UI_FUNCTION_LINES` lines.

Run by scripts/test.sh; exits 1 and says what is wrong when something is.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
problems = []


def code_lines(path):
    """(number, line) of the lines of a file that are not comments."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("//") or stripped.startswith("*"):
            continue
        yield n, line


def floors():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    floor_of = {}
    for line in section.splitlines():
        m = re.match(r"\s*(\d+)\.\s+(.*)", line)
        if m:
            for module in re.findall(r"`(\w+)`", m.group(2)):
                floor_of[module] = int(m.group(1))
    if not floor_of:
        sys.exit("ARCHITECTURE.md has no '## Layers' list")
    return floor_of


def check_layers():
    floor_of = floors()
    for path in sorted((ROOT / "src").rglob("*.rs")):
        rel = path.relative_to(ROOT / "src")
        if rel.parts[0] in ("cli", "main.rs", "lib.rs"):
            continue
        module = rel.parts[0].removesuffix(".rs")
        if module not in floor_of:
            problems.append(f"src/{rel}: module '{module}' is not in ARCHITECTURE.md's layers")
            continue
        for n, line in code_lines(path):
            for target in re.findall(r"\bcrate::(\w+)", line):
                if target in ("Result", "Error", "report"):
                    target = "error"
                if target == module:
                    continue
                if target not in floor_of:
                    problems.append(f"src/{rel}:{n}: crate::{target} is not in the layers")
                elif floor_of[target] >= floor_of[module]:
                    problems.append(
                        f"src/{rel}:{n}: {module} (floor {floor_of[module]}) imports "
                        f"{target} (floor {floor_of[target]}), not below it"
                    )


def files(pattern, root="src"):
    return sorted((ROOT / root).rglob(pattern))


def forbid(regex, paths, allowed, why):
    """`regex` may occur in code lines only in files under one of `allowed`."""
    for path in paths:
        rel = str(path.relative_to(ROOT))
        if any(rel.startswith(a) for a in allowed):
            continue
        for n, line in code_lines(path):
            if re.search(regex, line):
                problems.append(f"{rel}:{n}: {why}")


def check_invariants():
    rust = files("*.rs")
    # Cross-cutting concerns: `anyhow` lives at the edges, never in the engine.
    forbid(r"\banyhow\b", rust, ["src/cli/", "src/main.rs"], "anyhow outside the CLI")
    # src-tauri: the engine never imports Tauri.
    forbid(r"\btauri\b", rust, [], "the engine imports Tauri")
    # src/store: the store is the only module that writes SQL.
    forbid(r"\brusqlite\b|\.execute(_batch)?\(|\.prepare\(", rust, ["src/store/"], "SQL outside the store")
    # src/quality: no I/O.
    forbid(r"std::fs|\bStore\b|crate::store", files("*.rs", "src/quality"), [], "I/O in quality")
    # src/evaluate: the metrics are pure functions.
    forbid(r"std::fs|crate::(store|model|predict)", files("metrics.rs"), [], "metrics not pure")
    # src/template.rs: the task format's single owner.
    forbid(r'Classification:|Ticket: \\"', rust, ["src/template.rs"], "the layout outside the template")
    # src/cli: the CLI calls the engine through its public API.
    forbid(r"\bcrate::(?!cli\b)", files("*.rs", "src/cli"), [], "the CLI reaches into the engine's internals")
    # src/model: every op in ops/ is tested against candle's formula.
    for path in files("*.rs", "src/model/ops"):
        if path.name != "mod.rs" and "#[cfg(test)]" not in path.read_text(encoding="utf-8"):
            problems.append(f"{path.relative_to(ROOT)}: an op without tests")
    # ui/: backend.js is the only caller of invoke; DOM built with textContent only.
    js = sorted((ROOT / "ui/src").rglob("*.js"))
    forbid(r"\binvoke\(", js, ["ui/src/backend.js"], "invoke outside backend.js")
    forbid(r"innerHTML|outerHTML|insertAdjacentHTML", js, [], "HTML from strings in the UI")


MAX_UI_FUNCTION_LINES = 100

# `function name(` anywhere (declarations, methods of nothing else), and top-level
# `const name = (…) => {` / `const name = async x => {` arrows with a block body.
JS_FUNCTION = re.compile(r"\bfunction\b\s*\*?\s*([\w$]+)\s*\(")
JS_ARROW = re.compile(
    r"^(?:export\s+)?(?:const|let)\s+([\w$]+)\s*=\s*(?:async\s+)?(?:\([^)]*\)|[\w$]+)\s*=>\s*\{",
    re.MULTILINE,
)


def js_structure(text):
    """Offsets of the parentheses and braces of JavaScript code, outside strings and comments.

    A simple scanner: quotes, template literals (with `${…}` nesting) and comments are
    skipped; regular expression literals are not recognised (none in the UI holds a brace).
    """
    marks = []
    stack = ["code"]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if stack[-1] == "template":
            if c == "\\":
                i += 2
                continue
            if c == "`":
                stack.pop()
            elif text.startswith("${", i):
                stack.append("expr")
                marks.append((i + 1, "{"))
                i += 2
                continue
            i += 1
            continue
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 2
            continue
        if c in "'\"":
            i += 1
            while i < n and text[i] != c and text[i] != "\n":
                i += 2 if text[i] == "\\" else 1
        elif c == "`":
            stack.append("template")
        elif c in "({":
            marks.append((i, c))
            if c == "{":
                stack.append("brace")
        elif c in ")}":
            marks.append((i, c))
            if c == "}" and len(stack) > 1:
                stack.pop()
        i += 1
    return marks


def matching(marks, k):
    """Index in `marks` of the bracket that closes the one at index `k`, or None."""
    depth = 0
    for j in range(k, len(marks)):
        depth += 1 if marks[j][1] in "({" else -1
        if depth == 0:
            return j
    return None


def js_functions(text, marks):
    """(offset of the declaration, name, index in `marks` of the body's `{`) of each function."""
    offsets = [m[0] for m in marks]
    for m in JS_FUNCTION.finditer(text):
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()].strip()
        if line.startswith(("//", "*", "/*")):
            continue
        # The body is the first brace after the parameters' closing parenthesis (parameters
        # may hold braces: `{ id, cls } = {}`).
        params = next((i for i, o in enumerate(offsets) if o == m.end() - 1), None)
        close = matching(marks, params) if params is not None else None
        body = None
        if close is not None:
            body = next((i for i in range(close + 1, len(marks)) if marks[i][1] == "{"), None)
        yield m.start(), m.group(1), body
    for m in JS_ARROW.finditer(text):
        yield m.start(), m.group(1), offsets.index(m.end() - 1) if m.end() - 1 in offsets else None


def check_ui_function_length():
    """ui/: one module per page, small components; a function runs from its declaration to
    the brace that closes its body."""
    for path in sorted((ROOT / "ui/src").rglob("*.js")):
        rel = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")
        marks = js_structure(text)

        def line_at(offset):
            return text.count("\n", 0, offset) + 1

        for start, name, body in js_functions(text, marks):
            end = matching(marks, body) if body is not None else None
            if end is None:
                problems.append(f"{rel}:{line_at(start)}: cannot find the end of function {name}")
                continue
            length = line_at(marks[end][0]) - line_at(start) + 1
            if length > MAX_UI_FUNCTION_LINES:
                problems.append(
                    f"{rel}:{line_at(start)}: function {name} is {length} lines long "
                    f"(at most {MAX_UI_FUNCTION_LINES}: split it into named pieces)"
                )


check_layers()
check_invariants()
check_ui_function_length()
if problems:
    print("architecture check failed:")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print("architecture check: layers, invariants and UI function sizes hold")
