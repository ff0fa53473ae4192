/**
 * @file test_module_manager.cc
 * ModuleManager (DESIGN.md §5): modules found through extra_dirs,
 * CHI_REPO_PATH and LD_LIBRARY_PATH; non-modules, wrong-ABI modules and
 * garbage skipped with one log line naming the file and the reason;
 * CreateContainer; unknown-module errors; first-found-wins on duplicates.
 *
 * The test modules (tests/runtime/modules) are built into CHI_TEST_MODULE_DIR
 * and copied into fresh temp dirs, so each test controls what a scan sees.
 * The environment variables the scan reads are set per test and restored.
 */
#include <gtest/gtest.h>

#include "scoped_env.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>

#include "chimaera/runtime/log.h"
#include "chimaera/runtime/module_manager.h"

namespace fs = std::filesystem;

namespace {

using chi::testing::ScopedEnv;

/** A fresh directory under the system temp dir, removed at scope exit. */
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "chi_test_mm_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const fs::path &Path() const { return path_; }
  std::string Str() const { return path_.string(); }
  /** Copy a built test module (by file name) into this dir; returns its new path. */
  std::string AddModule(const std::string &file_name) const {
    fs::path dst = path_ / file_name;
    fs::copy_file(fs::path(CHI_TEST_MODULE_DIR) / file_name, dst);
    return dst.string();
  }
  /** Write a file that is not a shared library at all. */
  std::string AddGarbage(const std::string &file_name) const {
    fs::path dst = path_ / file_name;
    std::ofstream(dst) << "this is not an ELF file\n";
    return dst.string();
  }

 private:
  fs::path path_;
};

size_t CountOccurrences(const std::string &haystack, const std::string &needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

/** Captures chi::Log() output at debug level as "[<level>] <message>" lines,
 * and isolates the scan from the caller's CHI_REPO_PATH / LD_LIBRARY_PATH
 * (the dynamic linker read LD_LIBRARY_PATH at startup; changing it here only
 * affects getenv in ModuleManager). */
class ModuleManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    sink_->set_pattern("[%l] %v");
    sink_->set_level(spdlog::level::trace);
    old_level_ = chi::Log().level();
    chi::Log().sinks().push_back(sink_);
    chi::SetLogLevel("debug");
  }
  void TearDown() override {
    auto &sinks = chi::Log().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    chi::Log().set_level(old_level_);
  }
  std::string LogText() const { return log_.str(); }

  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::level::level_enum old_level_ = spdlog::level::info;
  ScopedEnv repo_path_{"CHI_REPO_PATH", std::nullopt};
  ScopedEnv ld_path_{"LD_LIBRARY_PATH", std::nullopt};
};

TEST_F(ModuleManagerTest, LoadsGoodModuleFromExtraDirsAndSkipsTheRest) {
  TempDir dir;
  const std::string good = dir.AddModule(CHI_TEST_GOOD_MODULE);
  const std::string bad_abi = dir.AddModule(CHI_TEST_BAD_ABI_MODULE);
  const std::string not_module = dir.AddModule(CHI_TEST_NOT_MODULE);
  const std::string garbage = dir.AddGarbage("libgarbage.so");
  dir.AddGarbage("README.txt");  // not a .so name: never opened

  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({dir.Str()}), 1u);

  const chi::ModuleInfo *info = mm.Find("test_good");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name_, "test_good");
  EXPECT_EQ(fs::path(info->path_), fs::path(good));
  EXPECT_NE(info->handle_, nullptr);
  EXPECT_NE(info->alloc_state_, nullptr);
  EXPECT_NE(info->new_state_, nullptr);
  EXPECT_EQ(mm.Find("test_bad_abi"), nullptr);
  EXPECT_EQ(mm.Find("nope"), nullptr);
  EXPECT_EQ(mm.ModuleNames(), std::vector<std::string>{"test_good"});

  const std::string log = LogText();
  SCOPED_TRACE(log);
  // Exactly one line per skipped file, naming it and the reason, at the documented level.
  const std::string abi_line = "[warning] module scan: skipping " + bad_abi +
                               ": ABI version mismatch: module built with ABI version " +
                               std::to_string(chi::kChimaeraAbiVersion + 1) + ", this runtime has ABI version " +
                               std::to_string(chi::kChimaeraAbiVersion);
  EXPECT_NE(log.find(abi_line), std::string::npos);
  EXPECT_EQ(CountOccurrences(log, bad_abi), 1u);
  EXPECT_NE(log.find("[debug] module scan: skipping " + not_module + ": not a Chimaera module"), std::string::npos);
  EXPECT_EQ(CountOccurrences(log, not_module), 1u);
  // A file in a module dir that fails to load is a warning; dlerror gives the reason.
  EXPECT_NE(log.find("[warning] module scan: skipping " + garbage + ": cannot load: "), std::string::npos);
  EXPECT_EQ(CountOccurrences(log, "skipping " + garbage), 1u);
  EXPECT_EQ(log.find("README.txt"), std::string::npos);
  EXPECT_NE(log.find("loaded module 'test_good' from " + good), std::string::npos);
}

TEST_F(ModuleManagerTest, LoadsFromChiRepoPathSkippingEmptyAndMissingEntries) {
  TempDir dir;
  dir.AddModule(CHI_TEST_GOOD_MODULE);
  ScopedEnv repo("CHI_REPO_PATH", "::/nonexistent/chi_test_dir:" + dir.Str() + ":");

  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({}), 1u);
  ASSERT_NE(mm.Find("test_good"), nullptr);
  EXPECT_EQ(fs::path(mm.Find("test_good")->path_).parent_path(), dir.Path());
}

TEST_F(ModuleManagerTest, LdLibraryPathFailuresAreDebugOnly) {
  TempDir dir;
  dir.AddModule(CHI_TEST_GOOD_MODULE);
  const std::string garbage = dir.AddGarbage("libgarbage.so");
  ScopedEnv ld("LD_LIBRARY_PATH", dir.Str());

  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({}), 1u);
  EXPECT_NE(mm.Find("test_good"), nullptr);
  const std::string log = LogText();
  SCOPED_TRACE(log);
  EXPECT_NE(log.find("[debug] module scan: skipping " + garbage + ": cannot load: "), std::string::npos);
}

TEST_F(ModuleManagerTest, ExtraDirsComeBeforeChiRepoPathAndFirstFoundWins) {
  TempDir first;
  TempDir second;
  const std::string winner = first.AddModule(CHI_TEST_GOOD_MODULE);
  const std::string loser = second.AddModule(CHI_TEST_GOOD_MODULE);
  ScopedEnv repo("CHI_REPO_PATH", second.Str());

  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({first.Str()}), 1u);
  ASSERT_NE(mm.Find("test_good"), nullptr);
  EXPECT_EQ(fs::path(mm.Find("test_good")->path_), fs::path(winner));
  const std::string log = LogText();
  SCOPED_TRACE(log);
  EXPECT_NE(log.find("[warning] module scan: skipping " + loser + ": a second module 'test_good' (already loaded from " +
                     winner),
            std::string::npos);
  EXPECT_EQ(CountOccurrences(log, loser), 1u);
}

TEST_F(ModuleManagerTest, SameDirectoryAndSymlinksAreNotScannedTwice) {
  TempDir dir;
  const std::string good = dir.AddModule(CHI_TEST_GOOD_MODULE);
  fs::create_symlink(good, dir.Path() / "libtest_good.so.1");
  ScopedEnv repo("CHI_REPO_PATH", dir.Str());
  ScopedEnv ld("LD_LIBRARY_PATH", dir.Str());

  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({dir.Str()}), 1u);
  const std::string log = LogText();
  SCOPED_TRACE(log);
  EXPECT_EQ(log.find("duplicate"), std::string::npos);
}

TEST_F(ModuleManagerTest, ModuleNamesAreSorted) {
  TempDir dir;
  dir.AddModule(CHI_TEST_GOOD_MODULE);    // "test_good", scanned first
  dir.AddModule(CHI_TEST_SECOND_MODULE);  // "test_alpha", scanned second
  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({dir.Str()}), 2u);
  EXPECT_EQ(mm.ModuleNames(), (std::vector<std::string>{"test_alpha", "test_good"}));
}

TEST_F(ModuleManagerTest, CreateContainerSetsPoolIdAndName) {
  TempDir dir;
  dir.AddModule(CHI_TEST_GOOD_MODULE);
  chi::ModuleManager mm;
  ASSERT_EQ(mm.ScanAndLoad({dir.Str()}), 1u);

  std::unique_ptr<chi::Container> c(mm.CreateContainer("test_good", chi::PoolId(42), "my_pool"));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->pool_id_, chi::PoolId(42));
  EXPECT_EQ(c->pool_name_, "my_pool");

  // alloc_state makes an un-initialised container.
  std::unique_ptr<chi::Container> raw(mm.Find("test_good")->alloc_state_());
  ASSERT_NE(raw, nullptr);
  EXPECT_TRUE(raw->pool_id_.IsNull());
}

TEST_F(ModuleManagerTest, UnknownModuleErrorListsLoadedModules) {
  TempDir dir;
  dir.AddModule(CHI_TEST_GOOD_MODULE);
  dir.AddModule(CHI_TEST_SECOND_MODULE);
  chi::ModuleManager mm;
  ASSERT_EQ(mm.ScanAndLoad({dir.Str()}), 2u);
  try {
    mm.CreateContainer("nope", chi::PoolId(3), "p");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error &e) {
    EXPECT_STREQ(e.what(), "unknown module 'nope' (loaded: test_alpha, test_good)");
  }

  chi::ModuleManager empty;
  try {
    empty.CreateContainer("nope", chi::PoolId(3), "p");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error &e) {
    EXPECT_STREQ(e.what(), "unknown module 'nope' (loaded: none)");
  }
}

TEST_F(ModuleManagerTest, MissingExtraDirIsSkipped) {
  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({"/nonexistent/chi_test_dir", ""}), 0u);
  EXPECT_TRUE(mm.ModuleNames().empty());
}

}  // namespace

// Seed 004's [REPO_NAME]:[MOD_NAME]: two repos that each ship a module
// "kvstore" both load, each under its qualified name; the bare name is then
// ambiguous and names both; a qualified name finds its own library.
TEST_F(ModuleManagerTest, SameBareNameInTwoReposBothLoadUnderQualifiedNames) {
  TempDir dir;
  const std::string a = dir.AddModule(CHI_TEST_REPO_A_MODULE);
  const std::string b = dir.AddModule(CHI_TEST_REPO_B_MODULE);
  chi::ModuleManager mm;
  EXPECT_EQ(mm.ScanAndLoad({dir.Str()}), 2u);
  EXPECT_EQ(mm.ModuleNames(), (std::vector<std::string>{"repo_a::kvstore", "repo_b::kvstore"}));
  ASSERT_NE(mm.Find("repo_a::kvstore"), nullptr);
  EXPECT_EQ(fs::path(mm.Find("repo_a::kvstore")->path_), fs::path(a));
  EXPECT_EQ(fs::path(mm.Find("repo_b::kvstore")->path_), fs::path(b));
  EXPECT_EQ(mm.Find("repo_b::kvstore")->name_, "kvstore");
  EXPECT_EQ(mm.Find("repo_b::kvstore")->namespace_, "repo_b");
  std::string error;
  EXPECT_EQ(mm.Find("kvstore", &error), nullptr);
  EXPECT_EQ(error, "module name 'kvstore' is ambiguous: repo_a::kvstore (" + a + "), repo_b::kvstore (" + b +
                       "); use the qualified name");
  try {
    delete mm.CreateContainer("kvstore", chi::PoolId(5), "p");
    ADD_FAILURE() << "an ambiguous bare name made a container";
  } catch (const std::runtime_error &e) {
    EXPECT_EQ(std::string(e.what()), error);
  }
  std::unique_ptr<chi::Container> c(mm.CreateContainer("repo_b::kvstore", chi::PoolId(5), "p"));
  EXPECT_EQ(c->pool_name_, "p");
  // A bare name that only one module has still works.
  EXPECT_EQ(mm.Find("repo_c::kvstore", &error), nullptr);
  EXPECT_NE(error.find("unknown module 'repo_c::kvstore' (loaded: repo_a::kvstore, repo_b::kvstore)"), std::string::npos)
      << error;
}
