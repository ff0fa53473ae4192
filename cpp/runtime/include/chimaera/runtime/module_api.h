#pragma once
/**
 * @file module_api.h
 * The C entry points every ChiMod runtime library exports (seed 002/004
 * CHI_TASK_CC), plus an ABI-version symbol so the ModuleManager refuses a
 * module built against another Chimaera (DESIGN.md §5).
 *
 * Usage at the end of `<mod>_runtime.cc`:
 *   CHI_TASK_CC(example::mod_name::Runtime, "mod_name");
 * The module registers as "<namespace>::mod_name" (seed 004's
 * [REPO_NAME]:[MOD_NAME]), its namespace taken from the generated
 * lib_exec.h (kChiRepoNamespace, from chimaera_repo.yaml).
 */
#include "chimaera/core/runtime_shared.h"  // kChimaeraAbiVersion
#include "chimaera/runtime/container.h"

extern "C" {
/** Allocate a container (no Init). */
typedef chi::Container *(*alloc_state_t)();
/** Allocate a container and Init(pool_id, pool_name). */
typedef chi::Container *(*new_state_t)(const chi::PoolId *pool_id, const char *pool_name);
/** The module's name (the key CreatePool's mod_name_ refers to). */
typedef const char *(*get_module_name_t)(void);
/** The kChimaeraAbiVersion the module was compiled with. */
typedef chi::u32 (*get_abi_version_t)(void);
/** The module's repo namespace ("" for a module built without one): with
 * get_module_name, its qualified name "namespace::mod" (seed 004). */
typedef const char *(*get_module_namespace_t)(void);
}

namespace chi::detail {
/** TRAIT_CLASS::kChiRepoNamespace (written by the generated lib_exec.h from
 * chimaera_repo.yaml), or "" for a container without one. */
template <typename T>
constexpr const char *RepoNamespaceOf() {
  if constexpr (requires { T::kChiRepoNamespace; }) return T::kChiRepoNamespace;
  else return "";
}
}  // namespace chi::detail

#define CHI_TYPE_UNWRAP(...) __VA_ARGS__

#define CHI_TASK_CC(TRAIT_CLASS, MOD_NAME)                                                        \
  extern "C" {                                                                                    \
  __attribute__((visibility("default"))) chi::Container *alloc_state() {                          \
    return new CHI_TYPE_UNWRAP(TRAIT_CLASS)();                                                    \
  }                                                                                               \
  __attribute__((visibility("default"))) chi::Container *new_state(const chi::PoolId *pool_id,   \
                                                                   const char *pool_name) {       \
    chi::Container *exec = new CHI_TYPE_UNWRAP(TRAIT_CLASS)();                                    \
    exec->Init(*pool_id, pool_name);                                                              \
    return exec;                                                                                  \
  }                                                                                               \
  __attribute__((visibility("default"))) const char *get_module_name(void) { return MOD_NAME; }  \
  __attribute__((visibility("default"))) const char *get_module_namespace(void) {                \
    return chi::detail::RepoNamespaceOf<CHI_TYPE_UNWRAP(TRAIT_CLASS)>();                          \
  }                                                                                               \
  __attribute__((visibility("default"))) chi::u32 get_abi_version(void) {                        \
    return chi::kChimaeraAbiVersion;                                                              \
  }                                                                                               \
  __attribute__((visibility("default"))) bool is_chimaera_task_ = true;                          \
  }
