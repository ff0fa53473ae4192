"""The example notebook runs headless through a real Jupyter kernel
(Debian's python3-nbclient + python3-ipykernel) and produces its outputs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "chimaera_quickstart.ipynb"


def _text(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif "data" in o and "text/plain" in o["data"]:
            out.append(o["data"]["text/plain"])
    return "".join(out)


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # A kernelspec for THIS interpreter (the project's venv, which has the
    # chimaera package); Debian's default "python3" kernel is /usr/bin/python3.
    spec_dir = tmp_path / "jupyter" / "kernels" / "chimaera-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "chimaera test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="chimaera-test",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    assert "completed 5000 of 5000 tasks" in outputs
    assert "sync round trip" in outputs and "median" in outputs
    assert "NOTEBOOK OK 5000 40" in outputs
    assert "CLUSTER OK 2" in outputs and "(1, '127.0.0.3:" in outputs  # the "Several nodes" section  # 40 files compressed, restored and verified
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
