"""Render a validated Module through the Jinja2 templates and write the
results without touching unchanged files (so the build does not recompile
what includes them).
"""
from __future__ import annotations

import os
import tempfile
from typing import Dict, List

import jinja2

from .model import Module

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

# output file name pattern -> template
OUTPUTS = {
    "{mod}_methods.h": "methods.h.j2",
    "{mod}_lib_exec.h": "lib_exec.h.j2",
    "{mod}_schema.h": "schema.h.j2",
    "{mod}_python.cc": "python.cc.j2",
}


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,  # a typo in a template is an error, not ""
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(mod: Module) -> Dict[str, str]:
    """File name -> content for every generated header of `mod`."""
    env = _env()
    out = {}
    for pattern, tmpl in OUTPUTS.items():
        text = env.get_template(tmpl).render(mod=mod)
        out[pattern.format(mod=mod.name)] = text.rstrip("\n") + "\n"
    return out


def write_outputs(files: Dict[str, str], out_dir: str) -> List[str]:
    """Write `files` into `out_dir`; returns the paths actually rewritten.

    A file whose content is unchanged is left alone (mtime preserved). A
    changed file is written to a temporary file in `out_dir` and renamed over
    the old one, so a reader never sees a half-written header.
    """
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, content in sorted(files.items()):
        path = os.path.join(out_dir, name)
        try:
            with open(path, "r", encoding="utf-8", newline="") as f:
                if f.read() == content:
                    continue
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(content)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        written.append(path)
    return written
