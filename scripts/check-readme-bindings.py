#!/usr/bin/env python3
"""Checks the README's Python and Java examples against the bindings jsii-pacmak generated.

The TypeScript examples are compiled by jsii-rosetta. The Python and Java ones cannot be
compiled here (aws-cdk-lib for Python and Java comes from PyPI and Maven Central, which are out
of reach), so this checks what can go wrong when the API changes: every class of this library
an example uses exists in the generated bindings, every keyword argument (Python) is a
parameter of its constructor, and every builder method (Java) exists on its builder.

Usage (after `jsii-pacmak --code-only --target python --target java`):
    python3 scripts/check-readme-bindings.py README.md dist
"""
import ast
import os
import re
import sys


def blocks(readme: str, language: str) -> list[str]:
    return re.findall(r"```" + language + r"\n(.*?)```", readme, flags=re.S)


def python_constructors(module_file: str) -> dict[str, set[str]]:
    """Class name -> the parameter names of its __init__, from the generated module."""
    tree = ast.parse(open(module_file, encoding="utf-8").read())
    classes: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        params: set[str] = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                args = item.args
                params = {a.arg for a in args.args + args.kwonlyargs if a.arg != "self"}
        classes[node.name] = params
    return classes


def check_python(code: str, classes: dict[str, set[str]], problems: list[str]) -> int:
    tree = ast.parse(code)
    ours: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "cdk_package_repos":
            for alias in node.names:
                if alias.name not in classes:
                    problems.append(f"python: cdk_package_repos has no {alias.name}")
                ours.add(alias.asname or alias.name)
    checked = 0
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name = node.func.id
        if name not in classes or (ours and name not in ours and name not in classes):
            continue
        checked += 1
        for keyword in node.keywords:
            if keyword.arg is not None and keyword.arg not in classes[name]:
                problems.append(f"python: {name}(...) has no keyword argument {keyword.arg!r} "
                                f"(it takes {', '.join(sorted(classes[name]))})")
    return checked


def check_java(code: str, java_dir: str, problems: list[str]) -> int:
    checked = 0
    for match in re.finditer(r"\b([A-Z]\w*)\.Builder\.create\((.*?)\)((?:\s*\.\w+\([^;]*?\))*?)\s*\.build\(\)", code, flags=re.S):
        cls, methods = match.group(1), re.findall(r"\.(\w+)\(", match.group(3))
        source = os.path.join(java_dir, f"{cls}.java")
        if not os.path.exists(source):
            problems.append(f"java: no class {cls} in the bindings")
            continue
        text = open(source, encoding="utf-8").read()
        checked += 1
        for method in methods:
            if not re.search(r"public Builder " + re.escape(method) + r"\(", text):
                problems.append(f"java: {cls}.Builder has no method {method}()")
    for match in re.finditer(r"\bnew ([A-Z]\w*)\(", code):
        cls = match.group(1)
        if cls in ("App", "Stack"):
            continue
        checked += 1
        if not os.path.exists(os.path.join(java_dir, f"{cls}.java")):
            problems.append(f"java: no class {cls} in the bindings")
    return checked


def main() -> int:
    readme_path, dist = sys.argv[1], sys.argv[2]
    readme = open(readme_path, encoding="utf-8").read()
    classes = python_constructors(os.path.join(dist, "python", "src", "cdk_package_repos", "__init__.py"))
    java_dir = os.path.join(dist, "java", "src", "main", "java", "dev", "cdkpackagerepos")
    problems: list[str] = []
    python_calls = sum(check_python(code, classes, problems) for code in blocks(readme, "python"))
    java_uses = sum(check_java(code, java_dir, problems) for code in blocks(readme, "java"))
    if python_calls == 0 or java_uses == 0:
        problems.append(f"expected Python and Java examples using this library's classes "
                        f"(found {python_calls} Python calls, {java_uses} Java uses)")
    for problem in problems:
        print(f"README: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"README examples match the bindings: {python_calls} Python constructor calls, {java_uses} Java uses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
