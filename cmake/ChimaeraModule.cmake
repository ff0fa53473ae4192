# chimaera_add_module(NAMESPACE ns NAME mod [EXPORT set] [REPO_YAML path] [PYTHON]
#                     [CLIENT_SOURCES ...] RUNTIME_SOURCES ... [LIBS ...])
# Declares a ChiMod (seed 002 "Module Repo"): <ns>_<mod>_client (a normal
# library, header-mostly) and <ns>_<mod>_runtime (a SHARED library compiled
# with CHIMAERA_RUNTIME, loaded by the runtime's ModuleManager), aliased as
# <ns>::<mod>_client / <ns>::<mod>_runtime and exported under those names.
# PYTHON: also the Python extension <ns>_<mod> of the schema methods
# (generated <mod>_python.cc; see _chimaera_add_python_module).
#
# Code generation (DESIGN.md §6): at BUILD time the generator turns
# <mod>/chimaera_mod.yaml + the repo's chimaera_repo.yaml (default: the
# directory above the module; REPO_YAML overrides) into
# ${CMAKE_CURRENT_BINARY_DIR}/autogen/<mod>_methods.h, <mod>_lib_exec.h and
# <mod>_schema.h (the tasks and client calls of the methods declared with
# fields),
# which both targets see on their include path, so sources include them by
# plain name. Editing the YAML (or the generator) regenerates on the next
# build; the generator rewrites a header only when its content changes, so a
# comment-only YAML edit recompiles nothing. The checked-in <mod>/autogen/
# copies are NOT on the include path (a stale copy can never be compiled);
# `chimaera-gen check <mod>` keeps them in sync (tests/generators).
# The generator also fails the build if NAMESPACE disagrees with the YAML.

# Python with python3-jinja2 and python3-yaml (Debian's, not a venv's).
set(CHIMAERA_PYTHON "/usr/bin/python3" CACHE FILEPATH
    "Python interpreter that runs the ChiMod code generator (needs jinja2 and yaml)")
# Directory holding chimaera_codegen/ and chimaera-gen: generators/ in the
# source tree; chimaeraConfig.cmake sets it to the installed copy
# (${CMAKE_INSTALL_DATADIR}/chimaera/generators) before including this file.
# Recorded in a global property so chimaera_add_module works from any
# directory scope.
if(NOT CHIMAERA_CODEGEN_DIR)
  get_filename_component(CHIMAERA_CODEGEN_DIR "${CMAKE_CURRENT_LIST_DIR}/../generators" ABSOLUTE)
  set(CHIMAERA_CODEGEN_DIR "${CHIMAERA_CODEGEN_DIR}" CACHE PATH
      "Directory containing the chimaera_codegen Python package (ChiMod code generator)")
endif()
set_property(GLOBAL PROPERTY CHIMAERA_CODEGEN_DIR "${CHIMAERA_CODEGEN_DIR}")

# Checks once per configure that the generator can run, so a missing Python
# package is a clear configure error rather than a failing build step.
function(_chimaera_codegen_check)
  get_property(CHIMAERA_CODEGEN_DIR GLOBAL PROPERTY CHIMAERA_CODEGEN_DIR)
  get_property(done GLOBAL PROPERTY CHIMAERA_CODEGEN_CHECKED)
  if(done)
    return()
  endif()
  if(NOT EXISTS "${CHIMAERA_CODEGEN_DIR}/chimaera_codegen/__init__.py")
    message(FATAL_ERROR "chimaera_add_module: no chimaera_codegen package in "
            "CHIMAERA_CODEGEN_DIR='${CHIMAERA_CODEGEN_DIR}'")
  endif()
  execute_process(COMMAND "${CHIMAERA_PYTHON}" -c "import jinja2, yaml"
                  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "chimaera_add_module: CHIMAERA_PYTHON='${CHIMAERA_PYTHON}' cannot import "
            "jinja2 and yaml (Debian: apt-get install python3-jinja2 python3-yaml):\n${err}")
  endif()
  set_property(GLOBAL PROPERTY CHIMAERA_CODEGEN_CHECKED TRUE)
endfunction()

# _chimaera_generate(<ns> <mod> <repo_yaml> <out_var>): the build-time
# generation rule; sets <out_var> to the generated header paths.
function(_chimaera_generate ns mod repo_yaml out_var)
  _chimaera_codegen_check()
  get_property(CHIMAERA_CODEGEN_DIR GLOBAL PROPERTY CHIMAERA_CODEGEN_DIR)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/autogen)
  set(outputs ${out_dir}/${mod}_methods.h ${out_dir}/${mod}_lib_exec.h ${out_dir}/${mod}_schema.h
              ${out_dir}/${mod}_python.cc)
  # Rerun when the generator or its templates change, too. CONFIGURE_DEPENDS:
  # a new generator file re-globs on the next build.
  file(GLOB gen_deps CONFIGURE_DEPENDS
       ${CHIMAERA_CODEGEN_DIR}/chimaera_codegen/*.py
       ${CHIMAERA_CODEGEN_DIR}/chimaera_codegen/templates/*.j2)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E env "PYTHONPATH=${CHIMAERA_CODEGEN_DIR}" PYTHONDONTWRITEBYTECODE=1
            "${CHIMAERA_PYTHON}" -m chimaera_codegen gen ${CMAKE_CURRENT_SOURCE_DIR}
            --repo-yaml ${repo_yaml} --expect-namespace ${ns} --out ${out_dir} --quiet
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/chimaera_mod.yaml ${repo_yaml} ${gen_deps}
    COMMENT "Generating ${ns}::${mod} autogen headers from chimaera_mod.yaml"
    VERBATIM)
  # A target the module's targets depend on: consumers of the client library
  # in other directories compile only after the headers exist.
  add_custom_target(${ns}_${mod}_autogen DEPENDS ${outputs})
  set(${out_var} ${outputs} PARENT_SCOPE)
endfunction()

# _chimaera_add_python_module(<ns> <mod> <client target> <autogen dir> <install?>):
# the Python extension <ns>_<mod> (a '::' of ns as '_') built from the
# generated <mod>_python.cc (issue 14), written to ${CMAKE_BINARY_DIR}/python
# and installed to <libdir>/python. Without Python 3's development files or
# pybind11 it is skipped with a status line (pick the interpreter with
# -DPython3_EXECUTABLE=...; the extension imports only into that version).
function(_chimaera_add_python_module ns mod client gen do_install)
  if(NOT TARGET Python3::Module)
    find_package(Python3 COMPONENTS Interpreter Development.Module QUIET)
  endif()
  if(TARGET Python3::Module AND NOT TARGET pybind11::headers)
    find_package(pybind11 2.6 CONFIG QUIET)
  endif()
  string(REPLACE "::" "_" pyname "${ns}_${mod}")
  if(NOT TARGET Python3::Module OR NOT TARGET pybind11::headers)
    message(STATUS "${ns}::${mod}: no Python 3 development files or pybind11; not building the Python "
                   "module ${pyname} (apt-get install python3-dev pybind11-dev)")
    return()
  endif()
  pybind11_add_module(${pyname}_python MODULE ${gen}/${mod}_python.cc)
  target_link_libraries(${pyname}_python PRIVATE ${client} chimaera::python_api)
  add_dependencies(${pyname}_python ${ns}_${mod}_autogen)
  set_target_properties(${pyname}_python PROPERTIES OUTPUT_NAME ${pyname}
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/python)
  if(do_install)
    install(TARGETS ${pyname}_python LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/python)
  endif()
endfunction()

function(chimaera_add_module)
  cmake_parse_arguments(M "PYTHON" "NAMESPACE;NAME;EXPORT;REPO_YAML" "CLIENT_SOURCES;RUNTIME_SOURCES;LIBS" ${ARGN})
  if(NOT M_NAMESPACE OR NOT M_NAME)
    message(FATAL_ERROR "chimaera_add_module: NAMESPACE and NAME are required")
  endif()
  set(client ${M_NAMESPACE}_${M_NAME}_client)
  set(runtime ${M_NAMESPACE}_${M_NAME}_runtime)
  set(src ${CMAKE_CURRENT_SOURCE_DIR})
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/autogen)
  if(NOT M_REPO_YAML)
    get_filename_component(M_REPO_YAML ${src}/../chimaera_repo.yaml ABSOLUTE)
  endif()
  _chimaera_generate(${M_NAMESPACE} ${M_NAME} ${M_REPO_YAML} generated)

  if(M_CLIENT_SOURCES)
    add_library(${client} ${M_CLIENT_SOURCES})
  else()
    add_library(${client} INTERFACE)
  endif()
  get_target_property(client_type ${client} TYPE)
  if(client_type STREQUAL "INTERFACE_LIBRARY")
    set(scope INTERFACE)
  else()
    set(scope PUBLIC)
  endif()
  # Installed: the generated headers sit next to <mod>_tasks.h in
  # include/<mod>/, where a plain #include "<mod>_methods.h" finds them.
  target_include_directories(${client} ${scope}
    $<BUILD_INTERFACE:${gen}> $<BUILD_INTERFACE:${src}/include> $<BUILD_INTERFACE:${src}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${client} ${scope} chimaera::client ${M_LIBS})
  add_dependencies(${client} ${M_NAMESPACE}_${M_NAME}_autogen)
  set_target_properties(${client} PROPERTIES EXPORT_NAME ${M_NAME}_client)
  add_library(${M_NAMESPACE}::${M_NAME}_client ALIAS ${client})

  add_library(${runtime} SHARED ${M_RUNTIME_SOURCES})
  target_compile_definitions(${runtime} PRIVATE CHIMAERA_RUNTIME)
  target_include_directories(${runtime} PRIVATE ${gen} ${src}/include ${src})
  target_link_libraries(${runtime} PRIVATE chimaera::runtime ${M_LIBS})
  add_dependencies(${runtime} ${M_NAMESPACE}_${M_NAME}_autogen)
  if(TARGET chimaera_warnings)
    target_link_libraries(${runtime} PRIVATE chimaera_warnings)
  endif()
  set_target_properties(${runtime} PROPERTIES EXPORT_NAME ${M_NAME}_runtime)
  add_library(${M_NAMESPACE}::${M_NAME}_runtime ALIAS ${runtime})

  if(M_PYTHON)
    if(M_EXPORT)
      _chimaera_add_python_module(${M_NAMESPACE} ${M_NAME} ${client} ${gen} TRUE)
    else()
      _chimaera_add_python_module(${M_NAMESPACE} ${M_NAME} ${client} ${gen} FALSE)
    endif()
  endif()

  if(M_EXPORT)
    install(TARGETS ${client} ${runtime} EXPORT ${M_EXPORT}
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(DIRECTORY ${src}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    set(generated_headers ${generated})
    list(FILTER generated_headers INCLUDE REGEX "\\.h$")
    install(FILES ${generated_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${M_NAME})
  endif()
endfunction()
