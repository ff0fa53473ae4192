# chimaera_add_module(NAMESPACE ns NAME mod
#                     [CLIENT_SOURCES ...] RUNTIME_SOURCES ... [LIBS ...])
# Declares a ChiMod (seed 002 "Module Repo"): <ns>_<mod>_client (a normal
# library, header-mostly) and <ns>_<mod>_runtime (a SHARED library compiled
# with CHIMAERA_RUNTIME, loaded by the runtime's ModuleManager), aliased as
# <ns>::<mod>_client / <ns>::<mod>_runtime and exported under those names.
function(chimaera_add_module)
  cmake_parse_arguments(M "" "NAMESPACE;NAME;EXPORT" "CLIENT_SOURCES;RUNTIME_SOURCES;LIBS" ${ARGN})
  if(NOT M_NAMESPACE OR NOT M_NAME)
    message(FATAL_ERROR "chimaera_add_module: NAMESPACE and NAME are required")
  endif()
  set(client ${M_NAMESPACE}_${M_NAME}_client)
  set(runtime ${M_NAMESPACE}_${M_NAME}_runtime)
  set(src ${CMAKE_CURRENT_SOURCE_DIR})

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
  target_include_directories(${client} ${scope}
    $<BUILD_INTERFACE:${src}/include> $<BUILD_INTERFACE:${src}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${client} ${scope} chimaera::client ${M_LIBS})
  set_target_properties(${client} PROPERTIES EXPORT_NAME ${M_NAME}_client)
  add_library(${M_NAMESPACE}::${M_NAME}_client ALIAS ${client})

  add_library(${runtime} SHARED ${M_RUNTIME_SOURCES})
  target_compile_definitions(${runtime} PRIVATE CHIMAERA_RUNTIME)
  target_include_directories(${runtime} PRIVATE ${src}/include ${src})
  target_link_libraries(${runtime} PRIVATE chimaera::runtime ${M_LIBS})
  if(TARGET chimaera_warnings)
    target_link_libraries(${runtime} PRIVATE chimaera_warnings)
  endif()
  set_target_properties(${runtime} PROPERTIES EXPORT_NAME ${M_NAME}_runtime)
  add_library(${M_NAMESPACE}::${M_NAME}_runtime ALIAS ${runtime})

  if(M_EXPORT)
    install(TARGETS ${client} ${runtime} EXPORT ${M_EXPORT}
            LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
            ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
    install(DIRECTORY ${src}/include/ ${src}/autogen DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endfunction()
