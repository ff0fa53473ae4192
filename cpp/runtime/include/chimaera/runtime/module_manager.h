#pragma once
/**
 * @file module_manager.h
 * `chi::ModuleManager`: finds ChiMod runtime libraries and keeps the table
 * module name -> shared-library handle (seed 002 "ModuleManager",
 * DESIGN.md §5). PoolManager asks it for a new Container when a pool is
 * created (`CreateContainer`).
 *
 * Note that scanning dlopen()s every candidate file, which runs its static
 * constructors: only put trusted directories in CHI_REPO_PATH and
 * LD_LIBRARY_PATH (the seed's design; see ScanAndLoad).
 */
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chimaera/core/ids.h"
#include "chimaera/runtime/container.h"
#include "chimaera/runtime/module_api.h"

namespace chi {

/** One loaded module. `handle_` is the dlopen handle; the two entry points
 * come from CHI_TASK_CC (module_api.h). */
struct ModuleInfo {
  std::string name_;       /**< get_module_name(): the bare name, "kvstore" */
  std::string namespace_;  /**< get_module_namespace(): "kvlab" ("" for a module without one) */
  std::string qualified_;  /**< "kvlab::kvstore" (the bare name without a namespace): the table's key */
  std::string path_;       /**< the file it was loaded from */
  void *handle_ = nullptr;
  alloc_state_t alloc_state_ = nullptr;
  new_state_t new_state_ = nullptr;
};

class ModuleManager {
 public:
  ModuleManager() = default;
  ModuleManager(const ModuleManager &) = delete;
  ModuleManager &operator=(const ModuleManager &) = delete;

  /** Scan, in order: `extra_dirs`, then every directory of CHI_REPO_PATH,
   * then of LD_LIBRARY_PATH (':'-separated; empty entries skipped; a missing
   * directory is skipped with a warn line, debug for LD_LIBRARY_PATH; a
   * directory already scanned is not scanned again). Within a
   * directory files are taken in name order. Every regular file (or symlink
   * to one) whose name ends in ".so" or contains ".so." is dlopen'ed
   * (RTLD_NOW|RTLD_LOCAL) and kept iff it exports alloc_state, new_state,
   * get_module_name, is_chimaera_task_ and get_abi_version() ==
   * kChimaeraAbiVersion. Otherwise it is dlclose'd and skipped with ONE log
   * line naming the file and the reason:
   *  - warn: another ABI version (names both), a module lacking an entry
   *    point, or a file in `extra_dirs`/CHI_REPO_PATH that fails to load;
   *  - debug: a plain (non-module) library, or a file in LD_LIBRARY_PATH that
   *    fails to load (LD_LIBRARY_PATH holds many unrelated libraries).
   * Modules are keyed by their qualified name "namespace::mod" (seed 004),
   * so two repos may each ship a module of one bare name and both load. The
   * first module found for a qualified name wins; a later one of the same
   * qualified name is skipped with a warn line naming both files. A second
   * path to an already-seen file
   * (symlink, e.g. libx.so -> libx.so.1) is skipped silently.
   * Returns the number of modules loaded by this call. Never throws for a bad
   * file or directory (only std::bad_alloc). Not thread-safe: call once at
   * startup, before any Find/CreateContainer. */
  size_t ScanAndLoad(const std::vector<std::string> &extra_dirs);

  /** The module named `name`: a qualified name ("kvlab::kvstore"), or a
   * bare one ("kvstore") when exactly one loaded module has it. nullptr when
   * unknown or ambiguous, with `*error` (if given) saying which: "unknown
   * module 'x' (loaded: a, b)" or "module name 'kvstore' is ambiguous:
   * kvlab::kvstore (path), other::kvstore (path); use the qualified name".
   * Thread-safe after ScanAndLoad (read-only); the pointer stays valid for
   * the manager's life. */
  const ModuleInfo *Find(const std::string &name, std::string *error = nullptr) const;

  /** A new container of module `name`, made by its new_state(pool_id,
   * pool_name) (so pool_id_ and pool_name_ are set); the caller owns it
   * (delete through Container's virtual destructor). Throws
   * std::runtime_error "unknown module 'x' (loaded: a, b)" when absent, or
   * when new_state returns null; exceptions thrown by the module's
   * constructor propagate. Thread-safe after ScanAndLoad. `name` is
   * resolved as Find resolves it (an ambiguous bare name throws the
   * message listing the candidates). */
  Container *CreateContainer(const std::string &name, const PoolId &pool_id, const std::string &pool_name) const;

  /** Qualified names of the loaded modules, sorted. Thread-safe after ScanAndLoad. */
  std::vector<std::string> ModuleNames() const;
  /** Every loaded module, by qualified name. Thread-safe after ScanAndLoad. */
  std::vector<const ModuleInfo *> Modules() const;

  /** Leaves the libraries loaded, on purpose: containers made by
   * CreateContainer (their vtables and code live in the module) may outlive
   * the manager, and so may tasks whose Del/handlers they run; dlclose'ing
   * under them would crash. The process exit unmaps them. */
  ~ModuleManager();

 private:
  enum class DirKind { kModuleDir, kLibraryDir };
  void ScanDir(const std::string &dir, DirKind kind);
  void TryLoad(const std::string &path, DirKind kind);

  std::map<std::string, ModuleInfo> modules_;   /**< by qualified name; node-based, so Find's pointers are stable */
  std::map<std::string, std::vector<std::string>> by_bare_name_;  /**< bare name -> qualified names */
  std::set<std::string> scanned_dirs_;  /**< canonical paths of scanned directories */
  std::set<std::string> seen_files_;    /**< canonical paths of files already tried */
  size_t loaded_this_scan_ = 0;
};

}  // namespace chi
