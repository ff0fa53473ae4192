/**
 * @file module_manager.cc
 * ModuleManager (module_manager.h, DESIGN.md §5).
 */
#include "chimaera/runtime/module_manager.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "chimaera/runtime/log.h"

namespace chi {
namespace fs = std::filesystem;

namespace {

/** `value` split at ':' with empty entries dropped. */
std::vector<std::string> SplitPathList(const char *value) {
  std::vector<std::string> out;
  if (value == nullptr) {
    return out;
  }
  std::string s(value);
  size_t start = 0;
  while (start <= s.size()) {
    size_t colon = s.find(':', start);
    if (colon == std::string::npos) {
      colon = s.size();
    }
    if (colon > start) {
      out.push_back(s.substr(start, colon - start));
    }
    start = colon + 1;
  }
  return out;
}

bool IsSharedLibraryName(const std::string &name) {
  return (name.size() > 3 && name.ends_with(".so")) || name.find(".so.") != std::string::npos;
}

/** The last dlerror(), or "unknown error". */
std::string DlError() {
  const char *err = dlerror();
  return err != nullptr ? err : "unknown error";
}

/** Closes a dlopen handle unless released. */
class HandleGuard {
 public:
  explicit HandleGuard(void *handle) : handle_(handle) {}
  ~HandleGuard() {
    if (handle_ != nullptr) {
      dlclose(handle_);
    }
  }
  HandleGuard(const HandleGuard &) = delete;
  HandleGuard &operator=(const HandleGuard &) = delete;
  void *Release() { return std::exchange(handle_, nullptr); }

 private:
  void *handle_;
};

}  // namespace

size_t ModuleManager::ScanAndLoad(const std::vector<std::string> &extra_dirs) {
  loaded_this_scan_ = 0;
  for (const std::string &dir : extra_dirs) {
    if (!dir.empty()) {
      ScanDir(dir, DirKind::kModuleDir);
    }
  }
  for (const std::string &dir : SplitPathList(std::getenv("CHI_REPO_PATH"))) {
    ScanDir(dir, DirKind::kModuleDir);
  }
  for (const std::string &dir : SplitPathList(std::getenv("LD_LIBRARY_PATH"))) {
    ScanDir(dir, DirKind::kLibraryDir);
  }
  std::string names;
  for (const auto &[name, info] : modules_) {
    names += (names.empty() ? "" : ", ") + name;
  }
  Log().info("module scan: {} module(s) loaded ({} in total: {})", loaded_this_scan_, modules_.size(),
             names.empty() ? "none" : names);
  return loaded_this_scan_;
}

void ModuleManager::ScanDir(const std::string &dir, DirKind kind) {
  std::error_code ec;
  fs::path canonical = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(canonical, ec)) {
    // A missing directory the user named for modules is likely a typo: warn.
    Log().log(kind == DirKind::kModuleDir ? spdlog::level::warn : spdlog::level::debug,
              "module scan: skipping directory {}: {}", dir, ec ? ec.message() : "not a directory");
    return;
  }
  if (!scanned_dirs_.insert(canonical.string()).second) {
    return;  // already scanned (e.g. listed in both CHI_REPO_PATH and LD_LIBRARY_PATH)
  }
  std::vector<fs::path> candidates;
  // Iterate the directory as given, so logged paths are the ones the user wrote.
  fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    Log().warn("module scan: cannot list directory {}: {}", dir, ec.message());
    return;
  }
  // increment(ec), not range-for: a directory that errors mid-listing must not throw.
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (IsSharedLibraryName(it->path().filename().string()) && it->is_regular_file(entry_ec)) {
      candidates.push_back(it->path());
    }
  }
  std::sort(candidates.begin(), candidates.end());  // deterministic "first wins"
  for (const fs::path &path : candidates) {
    TryLoad(path.string(), kind);
  }
}

void ModuleManager::TryLoad(const std::string &path, DirKind kind) {
  std::error_code ec;
  fs::path canonical = fs::canonical(path, ec);
  if (!ec && !seen_files_.insert(canonical.string()).second) {
    return;  // another name (symlink) of a file already tried
  }
  // A library in a directory named for modules that fails to load is most
  // likely a broken module (missing dependency): warn. LD_LIBRARY_PATH holds
  // many unrelated libraries: debug.
  const spdlog::level::level_enum load_failure_level =
      kind == DirKind::kModuleDir ? spdlog::level::warn : spdlog::level::debug;

  dlerror();  // clear any stale error
  void *raw = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (raw == nullptr) {
    Log().log(load_failure_level, "module scan: skipping {}: cannot load: {}", path, DlError());
    return;
  }
  HandleGuard handle(raw);  // dlclose unless kept

  if (dlsym(raw, "is_chimaera_task_") == nullptr) {
    Log().debug("module scan: skipping {}: not a Chimaera module (no is_chimaera_task_ symbol)", path);
    return;
  }
  auto get_abi_version = reinterpret_cast<get_abi_version_t>(dlsym(raw, "get_abi_version"));
  if (get_abi_version == nullptr) {
    Log().warn("module scan: skipping {}: Chimaera module without get_abi_version (built before ABI "
               "versioning); this runtime needs ABI version {}",
               path, kChimaeraAbiVersion);
    return;
  }
  const u32 abi = get_abi_version();
  if (abi != kChimaeraAbiVersion) {
    Log().warn("module scan: skipping {}: ABI version mismatch: module built with ABI version {}, this "
               "runtime has ABI version {}; rebuild the module",
               path, abi, kChimaeraAbiVersion);
    return;
  }
  ModuleInfo info;
  info.path_ = path;
  info.alloc_state_ = reinterpret_cast<alloc_state_t>(dlsym(raw, "alloc_state"));
  info.new_state_ = reinterpret_cast<new_state_t>(dlsym(raw, "new_state"));
  auto get_module_name = reinterpret_cast<get_module_name_t>(dlsym(raw, "get_module_name"));
  const char *missing = info.alloc_state_ == nullptr ? "alloc_state"
                        : info.new_state_ == nullptr ? "new_state"
                        : get_module_name == nullptr ? "get_module_name"
                                                     : nullptr;
  if (missing != nullptr) {
    Log().warn("module scan: skipping {}: Chimaera module lacks entry point '{}' (use CHI_TASK_CC)", path,
               missing);
    return;
  }
  const char *name = get_module_name();
  if (name == nullptr || *name == '\0') {
    Log().warn("module scan: skipping {}: get_module_name() returned an empty name", path);
    return;
  }
  info.name_ = name;
  auto get_namespace = reinterpret_cast<get_module_namespace_t>(dlsym(raw, "get_module_namespace"));
  const char *ns = get_namespace != nullptr ? get_namespace() : nullptr;
  info.namespace_ = ns != nullptr ? ns : "";
  info.qualified_ = info.namespace_.empty() ? info.name_ : info.namespace_ + "::" + info.name_;
  if (auto it = modules_.find(info.qualified_); it != modules_.end()) {
    Log().warn("module scan: skipping {}: a second module '{}' (already loaded from {}; first found wins)", path,
               info.qualified_, it->second.path_);
    return;
  }
  info.handle_ = handle.Release();
  Log().info("module scan: loaded module '{}' from {}", info.qualified_, path);
  by_bare_name_[info.name_].push_back(info.qualified_);
  modules_.emplace(info.qualified_, std::move(info));
  ++loaded_this_scan_;
}

const ModuleInfo *ModuleManager::Find(const std::string &name, std::string *error) const {
  if (auto it = modules_.find(name); it != modules_.end()) return &it->second;
  if (auto b = by_bare_name_.find(name); b != by_bare_name_.end() && name.find("::") == std::string::npos) {
    if (b->second.size() == 1) return &modules_.at(b->second[0]);
    if (error != nullptr) {
      std::string which;
      for (const std::string &q : b->second) which += (which.empty() ? "" : ", ") + q + " (" + modules_.at(q).path_ + ")";
      *error = "module name '" + name + "' is ambiguous: " + which + "; use the qualified name";
    }
    return nullptr;
  }
  if (error != nullptr) {
    std::string loaded;
    for (const auto &[n, unused] : modules_) loaded += (loaded.empty() ? "" : ", ") + n;
    *error = "unknown module '" + name + "' (loaded: " + (loaded.empty() ? "none" : loaded) + ")";
  }
  return nullptr;
}

std::vector<const ModuleInfo *> ModuleManager::Modules() const {
  std::vector<const ModuleInfo *> out;
  for (const auto &[q, info] : modules_) out.push_back(&info);
  return out;
}

Container *ModuleManager::CreateContainer(const std::string &name, const PoolId &pool_id,
                                          const std::string &pool_name) const {
  std::string error;
  const ModuleInfo *info = Find(name, &error);
  if (info == nullptr) throw std::runtime_error(error);
  Container *container = info->new_state_(&pool_id, pool_name.c_str());
  if (container == nullptr) {
    throw std::runtime_error("module '" + name + "' (" + info->path_ + "): new_state returned null for pool '" +
                             pool_name + "'");
  }
  return container;
}

std::vector<std::string> ModuleManager::ModuleNames() const {
  std::vector<std::string> names;
  names.reserve(modules_.size());
  for (const auto &[name, unused] : modules_) {
    names.push_back(name);
  }
  return names;  // std::map iterates in sorted order
}

// Intentionally no dlclose: see the header.
ModuleManager::~ModuleManager() = default;

}  // namespace chi
