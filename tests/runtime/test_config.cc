/**
 * @file test_config.cc
 * ServerConfig (DESIGN.md §9). Data-driven: every .yaml file under
 * configs/valid must load and match its "# expect:" lines, every .yaml file
 * under configs/invalid must fail with a ConfigError containing each of its
 * "# expect-error:" substrings (convention: configs/README.md). Plus
 * the cases that are not files: defaults, environment (CHI_PORT,
 * CHI_SERVER_CONF), ParseSize, ToYaml round trip, log levels.
 */
#include <gtest/gtest.h>

#include "scoped_env.h"
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "chimaera/runtime/config.h"
#include "chimaera/runtime/log.h"

namespace fs = std::filesystem;

namespace {

const fs::path kConfigDir = CHI_TEST_CONFIG_DIR;

using chi::testing::ScopedEnv;

/** The *.yaml files of configs/<sub>, sorted. */
std::vector<fs::path> ConfigFiles(const std::string &sub) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(kConfigDir / sub, ec)) {
    if (entry.path().extension() == ".yaml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

/** The text after `# <tag>:` on every line that starts with it. */
std::vector<std::string> Directives(const fs::path &file, const std::string &tag) {
  std::vector<std::string> out;
  std::ifstream in(file);
  const std::string prefix = "# " + tag + ":";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) {
      std::string rest = line.substr(prefix.size());
      rest.erase(0, rest.find_first_not_of(' '));
      out.push_back(rest);
    }
  }
  return out;
}

/** A node as a canonical string (block vs flow style and quoting ignored). */
std::string Canonical(const YAML::Node &node) {
  if (node.IsSequence()) {
    std::string s = "[";
    for (const YAML::Node &item : node) {
      s += Canonical(item) + ",";
    }
    return s + "]";
  }
  if (node.IsScalar()) {
    return "'" + node.Scalar() + "'";
  }
  if (node.IsMap()) {
    std::map<std::string, std::string> items;
    for (const auto &kv : node) items[kv.first.Scalar()] = Canonical(kv.second);
    std::string s = "{";
    for (const auto &[k, v] : items) s += k + ":" + v + ",";
    return s + "}";
  }
  return node.IsNull() ? "null" : "?";
}

std::string TestName(const ::testing::TestParamInfo<fs::path> &info) {
  std::string name = info.param.stem().string();
  for (char &c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      c = '_';
    }
  }
  return name;
}

// ---- valid/*.yaml ----

class ValidConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(ValidConfig, LoadsAndMatchesExpectations) {
  const fs::path &file = GetParam();
  chi::ServerConfig cfg;
  try {
    cfg = chi::ServerConfig::FromYamlFile(file.string());
  } catch (const chi::ConfigError &e) {
    FAIL() << "unexpected ConfigError: " << e.what();
  }
  // Expected = defaults overridden by the "# expect:" lines (a YAML map).
  std::string expect_text;
  for (const std::string &line : Directives(file, "expect")) {
    expect_text += line + "\n";
  }
  const YAML::Node expect = YAML::Load(expect_text);
  YAML::Node want = YAML::Load(chi::ServerConfig{}.ToYaml());
  const YAML::Node got = YAML::Load(cfg.ToYaml());
  if (expect.IsMap()) {
    for (const auto &kv : expect) {
      ASSERT_TRUE(want[kv.first.Scalar()].IsDefined()) << "bad # expect key '" << kv.first.Scalar() << "'";
      want[kv.first.Scalar()] = kv.second;
    }
  } else {
    ASSERT_TRUE(expect.IsNull()) << "# expect: lines must form a YAML map";
  }
  for (const auto &kv : want) {
    const std::string key = kv.first.Scalar();
    EXPECT_EQ(Canonical(got[key]), Canonical(kv.second)) << "key '" << key << "'";
  }
  // Every valid config survives a ToYaml round trip.
  EXPECT_EQ(chi::ServerConfig::FromYamlString(cfg.ToYaml(), "round-trip"), cfg);
}

INSTANTIATE_TEST_SUITE_P(Files, ValidConfig, ::testing::ValuesIn(ConfigFiles("valid")), TestName);

// ---- invalid/*.yaml ----

class InvalidConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(InvalidConfig, FailsWithExpectedMessage) {
  const fs::path &file = GetParam();
  const std::vector<std::string> expected = Directives(file, "expect-error");
  ASSERT_FALSE(expected.empty()) << file << " has no '# expect-error:' line";
  try {
    chi::ServerConfig::FromYamlFile(file.string());
    FAIL() << file << " loaded without error";
  } catch (const chi::ConfigError &e) {
    const std::string what = e.what();
    for (const std::string &substring : expected) {
      EXPECT_NE(what.find(substring), std::string::npos)
          << "message: " << what << "\nmissing:  " << substring;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Files, InvalidConfig, ::testing::ValuesIn(ConfigFiles("invalid")), TestName);

TEST(ConfigFiles, DirectoriesAreNotEmpty) {
  // Guards against a wrong CHI_TEST_CONFIG_DIR turning the suites above into no-ops.
  EXPECT_GE(ConfigFiles("valid").size(), 5u);
  EXPECT_GE(ConfigFiles("invalid").size(), 10u);
}

// ---- defaults and environment ----

TEST(ServerConfigLoad, DefaultsWithNoFileAndNoEnv) {
  ScopedEnv conf("CHI_SERVER_CONF", std::nullopt);
  ScopedEnv port("CHI_PORT", std::nullopt);
  const chi::ServerConfig cfg = chi::ServerConfig::Load();
  EXPECT_EQ(cfg, chi::ServerConfig{});
  EXPECT_EQ(cfg.num_workers, chi::DefaultWorkers());
  EXPECT_GE(cfg.num_workers, 1u);
  EXPECT_LE(cfg.num_workers, 8u);
  EXPECT_EQ(cfg.lanes_per_queue, 4u);
  EXPECT_EQ(cfg.queue_depth, 1024u);
  EXPECT_EQ(cfg.shm_size, 256ull << 20);
  EXPECT_EQ(cfg.port, 9413);
  EXPECT_TRUE(cfg.module_path.empty());
  EXPECT_EQ(cfg.log_level, "info");
}

TEST(ServerConfigLoad, EmptyConfVariableMeansNoFile) {
  ScopedEnv conf("CHI_SERVER_CONF", "");
  ScopedEnv port("CHI_PORT", std::nullopt);
  EXPECT_EQ(chi::ServerConfig::Load(), chi::ServerConfig{});
}

TEST(ServerConfigLoad, ReadsFileNamedByChiServerConf) {
  ScopedEnv conf("CHI_SERVER_CONF", (kConfigDir / "valid" / "all_keys.yaml").string());
  ScopedEnv port("CHI_PORT", std::nullopt);
  const chi::ServerConfig cfg = chi::ServerConfig::Load();
  EXPECT_EQ(cfg.num_workers, 8u);
  EXPECT_EQ(cfg.port, 10000);
}

TEST(ServerConfigLoad, MissingChiServerConfFileIsAnErrorNamingThePath) {
  const std::string path = "/nonexistent/chi_test/server.yaml";
  ScopedEnv conf("CHI_SERVER_CONF", path);
  ScopedEnv port("CHI_PORT", std::nullopt);
  try {
    chi::ServerConfig::Load();
    FAIL() << "expected ConfigError";
  } catch (const chi::ConfigError &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("CHI_SERVER_CONF"), std::string::npos) << what;
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
  }
}

TEST(ServerConfigLoad, ChiPortSetsPort) {
  ScopedEnv conf("CHI_SERVER_CONF", std::nullopt);
  ScopedEnv port("CHI_PORT", "12345");
  EXPECT_EQ(chi::ServerConfig::Load().port, 12345);
}

TEST(ServerConfigLoad, ConfFileIsAppliedAfterChiPort) {
  // Documented order: defaults, CHI_PORT, then the file (all_keys.yaml sets port 10000).
  ScopedEnv conf("CHI_SERVER_CONF", (kConfigDir / "valid" / "all_keys.yaml").string());
  ScopedEnv port("CHI_PORT", "12345");
  EXPECT_EQ(chi::ServerConfig::Load().port, 10000);
  // A file without `port` keeps CHI_PORT.
  ScopedEnv conf2("CHI_SERVER_CONF", (kConfigDir / "valid" / "workers.yaml").string());
  EXPECT_EQ(chi::ServerConfig::Load().port, 12345);
}

TEST(ServerConfigLoad, BadChiPortIsAnError) {
  ScopedEnv conf("CHI_SERVER_CONF", std::nullopt);
  for (const char *bad : {"abc", "0", "65536", "-1"}) {
    ScopedEnv port("CHI_PORT", bad);
    try {
      chi::ServerConfig::Load();
      ADD_FAILURE() << "CHI_PORT=" << bad << " accepted";
    } catch (const chi::ConfigError &e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("environment variable CHI_PORT: key 'port': expected an integer in 1..65535, found '" +
                          std::string(bad) + "'"),
                std::string::npos)
          << what;
    }
  }
}

TEST(ServerConfigFile, DirectoryIsAnError) {
  EXPECT_THROW(chi::ServerConfig::FromYamlFile(kConfigDir.string()), chi::ConfigError);
}

// ---- ToYaml ----

TEST(ServerConfigToYaml, RoundTripsDefaultsAndOddStrings) {
  EXPECT_EQ(chi::ServerConfig::FromYamlString(chi::ServerConfig{}.ToYaml(), "defaults"), chi::ServerConfig{});

  chi::ServerConfig cfg;
  cfg.num_workers = 256;
  cfg.lanes_per_queue = 1;
  cfg.queue_depth = 1u << 20;
  cfg.shm_size = (5ull << 30) + 1;
  cfg.port = 65535;
  // Strings YAML would otherwise read as null, bool, number, comment or map.
  cfg.module_path = {"/opt/chi mods", "~", "null", "true", "123", "#x", "a: b", "- c", "'q'", "\"dq\"", "ünï"};
  cfg.log_level = "off";
  const std::string yaml = cfg.ToYaml();
  SCOPED_TRACE(yaml);
  EXPECT_EQ(chi::ServerConfig::FromYamlString(yaml, "round-trip"), cfg);
}

// ---- ParseSize ----

TEST(ParseSize, AcceptsIntegersAndBinaryUnits) {
  const std::pair<const char *, chi::u64> cases[] = {
      {"0", 0},
      {"4096", 4096},
      {"512k", 512ull << 10},
      {"64m", 64ull << 20},
      {"1g", 1ull << 30},
      {"2t", 2ull << 40},
      {"64MiB", 64ull << 20},
      {"1GB", 1ull << 30},
      {"100b", 100},
      {"64 mb", 64ull << 20},
      {" 8K ", 8192},
      {"16777215t", 16777215ull << 40},
      {"18446744073709551615", 18446744073709551615ull},
  };
  for (const auto &[text, bytes] : cases) {
    EXPECT_EQ(chi::ParseSize(text), bytes) << text;
  }
}

TEST(ParseSize, RejectsBadInput) {
  const std::pair<const char *, const char *> cases[] = {
      {"12x", "unknown unit 'x'"},
      {"-64m", "negative"},
      {"-1", "negative"},
      {"", "empty"},
      {"  ", "empty"},
      {"m", "expected a non-negative integer"},
      {"+5", "expected a non-negative integer"},
      {"1.5g", "fractions are not supported"},
      {"18446744073709551616", "does not fit in 64 bits"},
      {"16777216t", "does not fit in 64 bits"},
      {"1 g b", "unknown unit 'g b'"},
      {"0x10", "unknown unit 'x10'"},
  };
  for (const auto &[text, message] : cases) {
    try {
      chi::ParseSize(text);
      ADD_FAILURE() << "'" << text << "' accepted";
    } catch (const chi::ConfigError &e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(message), std::string::npos) << "'" << text << "': " << what;
      EXPECT_NE(what.find("'" + std::string(text) + "'"), std::string::npos) << what;
    }
  }
}

// ---- log levels (log.h) ----

TEST(LogLevel, AcceptsDocumentedNames) {
  const spdlog::level::level_enum old = chi::Log().level();
  for (const char *name : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_NO_THROW(chi::SetLogLevel(name)) << name;
  }
  chi::SetLogLevel("warn");
  EXPECT_EQ(chi::Log().level(), spdlog::level::warn);
  chi::Log().set_level(old);
}

TEST(LogLevel, RejectsUnknownNameListingAcceptedOnes) {
  const spdlog::level::level_enum old = chi::Log().level();
  try {
    chi::SetLogLevel("loud");
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument &e) {
    EXPECT_STREQ(e.what(), "invalid log level 'loud' (accepted: trace, debug, info, warn, error, critical, off)");
  }
  EXPECT_EQ(chi::Log().level(), old);  // unchanged
  EXPECT_THROW(chi::SetLogLevel("WARN"), std::invalid_argument);
  EXPECT_THROW(chi::SetLogLevel("warning"), std::invalid_argument);
}

TEST(LogLevel, LoggerIsNamedChimaeraAndRegistered) {
  EXPECT_EQ(chi::Log().name(), "chimaera");
  EXPECT_EQ(spdlog::get("chimaera").get(), &chi::Log());
}

}  // namespace

// ---- ResolveCluster: the node table and this node's id (DESIGN.md §7) ----

namespace {
/** A temporary hostfile with `text`; removed on destruction. */
struct TempHostfile {
  std::string path;
  explicit TempHostfile(const std::string &text) {
    char tmpl[] = "/tmp/chi_hostfile_XXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    path = tmpl;
    std::ofstream(path) << text;
  }
  ~TempHostfile() { std::remove(path.c_str()); }
};
std::string ResolveError(const chi::ServerConfig &cfg) {
  try {
    chi::ResolveCluster(cfg);
  } catch (const chi::ConfigError &e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(ResolveCluster, NoNetworkingIsOneNodeWithoutATable) {
  chi::ClusterConfig c = chi::ResolveCluster(chi::ServerConfig{});
  EXPECT_FALSE(c.IsCluster());
}

TEST(ResolveCluster, HostfileWithNodeIdFromConfigOrEnvironment) {
  TempHostfile hosts("# three nodes\n127.0.0.2\n127.0.0.3:9600\n127.0.0.4\n");
  chi::ServerConfig cfg = chi::ServerConfig::FromYamlString(
      "port: 9500\nnetworking:\n  hostfile: " + hosts.path + "\n  node_id: 1\n", "t.yaml");
  chi::ClusterConfig c = chi::ResolveCluster(cfg);
  ASSERT_EQ(c.table.Size(), 3u);
  EXPECT_EQ(c.table.At(0).ToString(), "127.0.0.2:9500");
  EXPECT_EQ(c.table.At(1).ToString(), "127.0.0.3:9600");
  EXPECT_EQ(c.self, 1u);
  cfg.networking.node_id = -1;
  ScopedEnv id("CHI_NODE_ID", "2");
  EXPECT_EQ(chi::ResolveCluster(cfg).self, 2u);
  EXPECT_EQ(chi::ResolveCluster(cfg).how, "environment variable CHI_NODE_ID");
}

TEST(ResolveCluster, BadHostfileLineIsAnErrorNamingFileAndLine) {
  TempHostfile hosts("127.0.0.2\n\n127.0.0.3:notaport\n");
  chi::ServerConfig cfg;
  cfg.networking.hostfile = hosts.path;
  EXPECT_EQ(ResolveError(cfg),
            hosts.path + ":3: entry '127.0.0.3:notaport': port 'notaport' is not a number in 1..65535");
  TempHostfile dup("127.0.0.2\n127.0.0.3\n127.0.0.2\n");
  cfg.networking.hostfile = dup.path;
  EXPECT_EQ(ResolveError(cfg), dup.path + ":3: entry '127.0.0.2': '127.0.0.2:9413' is listed twice (first at line 1)");
  cfg.networking.hostfile = "/nonexistent/chi_hosts";
  EXPECT_NE(ResolveError(cfg).find("/nonexistent/chi_hosts: cannot read hostfile"), std::string::npos);
}

TEST(ResolveCluster, UnknownOwnAddressListsTheTable) {
  ScopedEnv id("CHI_NODE_ID", std::nullopt);
  ScopedEnv slurm("SLURM_NODEID", std::nullopt), procid("SLURM_PROCID", std::nullopt),
      ompi("OMPI_COMM_WORLD_RANK", std::nullopt), pmi("PMI_RANK", std::nullopt);
  chi::ServerConfig cfg = chi::ServerConfig::FromYamlString("networking: {hosts: [10.255.255.1, 10.255.255.2]}\n",
                                                            "t.yaml");
  const std::string err = ResolveError(cfg);
  EXPECT_NE(err.find("cannot tell which node this is"), std::string::npos) << err;
  EXPECT_NE(err.find("10.255.255.1:9413, 10.255.255.2:9413"), std::string::npos) << err;
  EXPECT_NE(err.find("set networking.node_id or CHI_NODE_ID"), std::string::npos) << err;
}
