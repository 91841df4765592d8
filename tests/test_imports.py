"""Only starmon/ui may import Streamlit: the collector must run as a plain process."""

from __future__ import annotations

import ast
import subprocess
import sys

from .fixtures import ROOT


def test_collector_and_emulator_do_not_load_streamlit():
    code = (
        "import sys, starmon.scheduler, starmon.emulator, starmon.store, starmon.aggregate; "
        "sys.exit(1 if 'streamlit' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_no_streamlit_import_outside_ui():
    offenders = []
    for path in (ROOT / "starmon").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "starmon").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] == "streamlit"]
    assert offenders == []


def test_parse_and_aggregate_are_pure_and_load_no_database_code():
    """The round's types and its aggregation are pure functions of what was fetched: no SQLAlchemy."""
    code = "import sys, starmon.aggregate, starmon.readings; print('sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
