"""chimaera_codegen: generates a ChiMod's autogen headers from its YAML.

Input (DESIGN.md §6, seeds 002/004): a module directory holding
``chimaera_mod.yaml`` (method name -> id) inside a repo whose
``chimaera_repo.yaml`` gives the C++ namespace. Output:
``autogen/<mod>_methods.h`` (``struct Method`` of ids) and
``autogen/<mod>_lib_exec.h`` (the ``Run``/``Monitor``/``Del`` switches that
are #included inside the module's ``class Runtime : public chi::Container``).

Public API (also used by the tests): :func:`load_module`, :func:`render`,
:func:`write_outputs`, :class:`CodegenError`, :func:`main`.
"""
from .model import CodegenError, Method, Module, load_module, load_repo_namespace
from .render import render, write_outputs
from .cli import main

__all__ = ["CodegenError", "Method", "Module", "load_module", "load_repo_namespace",
           "render", "write_outputs", "main"]
