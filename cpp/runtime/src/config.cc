/**
 * @file config.cc
 * ServerConfig parsing (config.h, DESIGN.md §9). Table-driven: `Keys()` lists
 * every YAML key once with its parser (which checks type and range) and its
 * emitter (ToYaml); the document walk below knows no key by name.
 */
#include "chimaera/runtime/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <limits>
#include <map>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "chimaera/runtime/log.h"

namespace chi {
namespace {

struct KeySpec;

/** One value being parsed, and where it came from (for messages). */
struct Field {
  std::string source_;  /**< file name, or "environment variable X" */
  int line_;            /**< 1-based; 0 when the source has no lines */
  const KeySpec *spec_;
  YAML::Node node_;

  std::string Where() const { return line_ > 0 ? source_ + ":" + std::to_string(line_) : source_; }

  /** Throws "<where>: key '<key>': expected <spec expected>, found <node>[ (detail)]". */
  [[noreturn]] void Fail(const std::string &detail = "") const;
};

/** A YAML key: its name, what it accepts (for messages), how to parse a
 * value into the config and how to emit it back. */
struct KeySpec {
  std::string key_;
  std::string expected_;
  std::function<void(const Field &, ServerConfig &)> parse_;
  std::function<void(YAML::Emitter &, const ServerConfig &)> emit_;
};

/** 1-based line of `node`, or `fallback` when yaml-cpp has no mark for it. */
int LineOf(const YAML::Node &node, int fallback) {
  YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

/** Throws ConfigError "<source>:<line>: <msg>". */
[[noreturn]] void ThrowAt(const std::string &source, int line, const std::string &msg) {
  throw ConfigError(source + ":" + std::to_string(line) + ": " + msg);
}

/** A quoted scalar ("4", '4') has the non-specific tag "!"; a plain one "?". */
bool IsQuoted(const YAML::Node &node) { return node.IsScalar() && node.Tag() == "!"; }

/** What the user wrote, for "found ..." in messages. */
std::string Describe(const YAML::Node &node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "no value (null)";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return IsQuoted(node) ? "the quoted string \"" + node.Scalar() + "\"" : "'" + node.Scalar() + "'";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined value";
}

void Field::Fail(const std::string &detail) const {
  std::string msg = "key '" + spec_->key_ + "': expected " + spec_->expected_ + ", found " + Describe(node_);
  if (!detail.empty()) {
    msg += " (" + detail + ")";
  }
  throw ConfigError(Where() + ": " + msg);
}

/** A plain (unquoted) scalar of decimal digits, as u64; anything else fails
 * the field (negative numbers and overflow included). */
u64 ParseUnsigned(const Field &f) {
  if (!f.node_.IsScalar() || IsQuoted(f.node_)) {
    f.Fail();
  }
  const std::string &s = f.node_.Scalar();
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    f.Fail();
  }
  u64 value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) {
    f.Fail("does not fit in 64 bits");
  }
  return value;
}

/** A non-empty string scalar (quoted or not). */
std::string ParseNonEmptyString(const Field &f) {
  if (!f.node_.IsScalar() || f.node_.Scalar().empty()) {
    f.Fail();
  }
  return f.node_.Scalar();
}

template <typename T>
KeySpec IntKey(std::string key, T ServerConfig::*member, u64 lo, u64 hi) {
  return KeySpec{
      std::move(key), "an integer in " + std::to_string(lo) + ".." + std::to_string(hi),
      [member, lo, hi](const Field &f, ServerConfig &cfg) {
        u64 v = ParseUnsigned(f);
        if (v < lo || v > hi) {
          f.Fail("out of range");
        }
        cfg.*member = static_cast<T>(v);
      },
      [member](YAML::Emitter &out, const ServerConfig &cfg) { out << static_cast<u64>(cfg.*member); }};
}

constexpr u64 kMinShmSize = 1ull << 20;  // the segment header, queues and allocator need room

/** A size key; `member(cfg)` is the u64 it sets. */
KeySpec SizeKey(std::string key, std::function<u64 &(ServerConfig &)> member, u64 lo) {
  return KeySpec{
      std::move(key),
      "a size of at least " + std::to_string(lo) + " bytes (a byte count, or a number with a unit: 512k, 64m, 1g, "
      "64MiB, 1GB)",
      [member, lo](const Field &f, ServerConfig &cfg) {
        if (!f.node_.IsScalar()) {
          f.Fail();
        }
        u64 v = 0;
        try {
          v = ParseSize(f.node_.Scalar());
        } catch (const ConfigError &e) {
          f.Fail(e.what());
        }
        if (v < lo) {
          f.Fail("= " + std::to_string(v) + " bytes, too small");
        }
        member(cfg) = v;
      },
      [member](YAML::Emitter &out, const ServerConfig &cfg) { out << member(const_cast<ServerConfig &>(cfg)); }};
}

KeySpec StringListKey(std::string key, std::vector<std::string> ServerConfig::*member) {
  return KeySpec{std::move(key), "a non-empty string or a list of non-empty strings",
                 [member](const Field &f, ServerConfig &cfg) {
                   std::vector<std::string> values;
                   if (f.node_.IsScalar()) {
                     values.push_back(ParseNonEmptyString(f));
                   } else if (f.node_.IsSequence()) {
                     int index = 0;
                     for (const YAML::Node &item : f.node_) {
                       // Report the item's own line (a block list spans lines).
                       Field item_field{f.source_, LineOf(item, f.line_), f.spec_, item};
                       if (!item.IsScalar() || item.Scalar().empty()) {
                         item_field.Fail("list item " + std::to_string(index));
                       }
                       values.push_back(item.Scalar());
                       ++index;
                     }
                   } else {
                     f.Fail();
                   }
                   cfg.*member = std::move(values);
                 },
                 [member](YAML::Emitter &out, const ServerConfig &cfg) {
                   out << YAML::BeginSeq;
                   for (const std::string &s : cfg.*member) {
                     out << YAML::DoubleQuoted << s;
                   }
                   out << YAML::EndSeq;
                 }};
}

KeySpec LogLevelKey(std::string key, std::string ServerConfig::*member) {
  return KeySpec{std::move(key), "one of " + AcceptedLogLevels(),
                 [member](const Field &f, ServerConfig &cfg) {
                   if (!f.node_.IsScalar()) {
                     f.Fail();
                   }
                   try {
                     ParseLogLevel(f.node_.Scalar());
                   } catch (const std::invalid_argument &) {
                     f.Fail();
                   }
                   cfg.*member = f.node_.Scalar();
                 },
                 [member](YAML::Emitter &out, const ServerConfig &cfg) { out << cfg.*member; }};
}

/** Durations: "250ms", "5s", "2m", stored in milliseconds, in [lo, hi]. */
template <typename Owner>
KeySpec DurationKey(std::string key, u64 Owner::*member, Owner ServerConfig::*owner, u64 lo_ms, u64 hi_ms) {
  return KeySpec{
      std::move(key),
      "a duration from " + std::to_string(lo_ms) + "ms to " + std::to_string(hi_ms / 1000) +
          "s with a unit (ms, s, m), e.g. 250ms or 5s",
      [member, owner, lo_ms, hi_ms](const Field &f, ServerConfig &cfg) {
        if (!f.node_.IsScalar()) f.Fail();
        u64 v = 0;
        try {
          v = ParseDurationMs(f.node_.Scalar());
        } catch (const ConfigError &e) {
          f.Fail(e.what());
        }
        if (v < lo_ms || v > hi_ms) f.Fail("out of range");
        (cfg.*owner).*member = v;
      },
      [member, owner](YAML::Emitter &out, const ServerConfig &cfg) {
        out << std::to_string((cfg.*owner).*member) + "ms";
      }};
}

const std::vector<KeySpec> &NetworkingKeys();
void ApplyMap(const YAML::Node &map, const std::string &source, const std::vector<KeySpec> &table,
              const std::string &prefix, ServerConfig &cfg);

/** `networking:`, a map of its own keys (NetworkingKeys), checked as a whole. */
KeySpec NetworkingKey() {
  return KeySpec{
      "networking", "a map of networking keys (hostfile or hosts, node_id, rpc_timeout, ...)",
      [](const Field &f, ServerConfig &cfg) {
        if (!f.node_.IsMap()) f.Fail();
        cfg.networking = NetworkConfig{};
        ApplyMap(f.node_, f.source_, NetworkingKeys(), "networking.", cfg);
        const NetworkConfig &n = cfg.networking;
        const std::string where = f.Where() + ": key 'networking': ";
        if (!n.hostfile.empty() && !n.hosts.empty())
          throw ConfigError(where + "set either 'hostfile' or 'hosts', not both");
        if (!n.IsCluster() && n.node_id >= 0)
          throw ConfigError(where + "'node_id' needs a node table ('hostfile' or 'hosts')");
        if (n.peer_dead_after_ms < 2 * n.heartbeat_interval_ms)
          throw ConfigError(where + "'peer_dead_after' (" + std::to_string(n.peer_dead_after_ms) +
                            "ms) must be at least twice 'heartbeat_interval' (" +
                            std::to_string(n.heartbeat_interval_ms) + "ms), or one late heartbeat kills a peer");
        if (!n.hosts.empty() && n.node_id >= static_cast<i64>(n.hosts.size()))
          throw ConfigError(where + "'node_id' is " + std::to_string(n.node_id) + ", but 'hosts' has " +
                            std::to_string(n.hosts.size()) + " entries");
      },
      [](YAML::Emitter &out, const ServerConfig &cfg) {
        out << YAML::BeginMap;
        for (const KeySpec &spec : NetworkingKeys()) {
          const NetworkConfig &n = cfg.networking;
          // Unset optional keys are left out (an empty hostfile is not valid input).
          if ((spec.key_ == "networking.hostfile" && n.hostfile.empty()) ||
              (spec.key_ == "networking.hosts" && n.hosts.empty()) ||
              (spec.key_ == "networking.node_id" && n.node_id < 0))
            continue;
          out << YAML::Key << spec.key_.substr(std::string("networking.").size()) << YAML::Value;
          spec.emit_(out, cfg);
        }
        out << YAML::EndMap;
      }};
}

/** `networking.hosts`: a non-empty list of node-table entries, each checked
 * where it is written (its own line). */
KeySpec HostsKey() {
  return KeySpec{"networking.hosts", "a non-empty list of host or host:port entries",
                 [](const Field &f, ServerConfig &cfg) {
                   if (!f.node_.IsSequence() || f.node_.size() == 0) f.Fail();
                   std::vector<net::NodeEntry> entries;
                   std::vector<std::string> texts;
                   for (const YAML::Node &item : f.node_) {
                     Field item_field{f.source_, LineOf(item, f.line_), f.spec_, item};
                     if (!item.IsScalar() || item.Scalar().empty()) item_field.Fail("list item " + std::to_string(texts.size()));
                     entries.push_back({item.Scalar(), item_field.line_});
                     texts.push_back(item.Scalar());
                   }
                   try {
                     // Syntax and explicit duplicates here, where lines are known; the
                     // default port (0: never equal to an explicit one) is applied by
                     // ResolveCluster, once `port` is final.
                     (void)net::NodeTable::FromEntries(entries, f.source_, 0);
                   } catch (const net::NodeTableError &e) {
                     throw ConfigError(std::string(e.what()) + " (key 'networking.hosts')");
                   }
                   cfg.networking.hosts = std::move(texts);
                 },
                 [](YAML::Emitter &out, const ServerConfig &cfg) {
                   out << YAML::Flow << YAML::BeginSeq;
                   for (const std::string &h : cfg.networking.hosts) out << YAML::DoubleQuoted << h;
                   out << YAML::EndSeq;
                 }};
}

const std::vector<KeySpec> &NetworkingKeys() {
  static const std::vector<KeySpec> kKeys = [] {
    std::vector<KeySpec> k;
    k.push_back(KeySpec{"networking.hostfile", "a non-empty path",
                        [](const Field &f, ServerConfig &cfg) { cfg.networking.hostfile = ParseNonEmptyString(f); },
                        [](YAML::Emitter &out, const ServerConfig &cfg) {
                          out << YAML::DoubleQuoted << cfg.networking.hostfile;
                        }});
    k.push_back(HostsKey());
    k.push_back(KeySpec{"networking.node_id", "an integer in 0..65535",
                        [](const Field &f, ServerConfig &cfg) {
                          u64 v = ParseUnsigned(f);
                          if (v > 65535) f.Fail("out of range");
                          cfg.networking.node_id = static_cast<i64>(v);
                        },
                        [](YAML::Emitter &out, const ServerConfig &cfg) { out << cfg.networking.node_id; }});
    k.push_back(DurationKey("networking.rpc_timeout", &NetworkConfig::rpc_timeout_ms, &ServerConfig::networking, 10,
                            3600000));
    k.push_back(DurationKey("networking.heartbeat_interval", &NetworkConfig::heartbeat_interval_ms,
                            &ServerConfig::networking, 10, 60000));
    k.push_back(DurationKey("networking.peer_dead_after", &NetworkConfig::peer_dead_after_ms,
                            &ServerConfig::networking, 20, 600000));
    k.push_back(SizeKey("networking.max_frame_size",
                        [](ServerConfig &c) -> u64 & { return c.networking.max_frame_size; }, 1ull << 20));
    return k;
  }();
  return kKeys;
}

/** THE table: every top-level key the configuration accepts, in ToYaml order. */
const std::vector<KeySpec> &Keys() {
  static const std::vector<KeySpec> kKeys = {
      IntKey("workers", &ServerConfig::num_workers, 1, 256),
      IntKey("lanes_per_queue", &ServerConfig::lanes_per_queue, 1, 1024),
      IntKey("queue_depth", &ServerConfig::queue_depth, 2, 1u << 20),
      SizeKey("shm_size", [](ServerConfig &c) -> u64 & { return c.shm_size; }, kMinShmSize),
      IntKey("port", &ServerConfig::port, 1, 65535),
      StringListKey("module_path", &ServerConfig::module_path),
      LogLevelKey("log_level", &ServerConfig::log_level),
      NetworkingKey(),
  };
  return kKeys;
}

const KeySpec *FindKeyIn(const std::vector<KeySpec> &table, const std::string &prefix, const std::string &name) {
  for (const KeySpec &spec : table) {
    if (spec.key_ == prefix + name) {
      return &spec;
    }
  }
  return nullptr;
}

const KeySpec *FindKey(const std::string &name) { return FindKeyIn(Keys(), "", name); }

/** Optimal-string-alignment distance (Levenshtein plus adjacent
 * transpositions, so "wrokers" is 1 from "workers"), case-insensitive. */
size_t EditDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  const size_t m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

/** "unknown key 'x'; did you mean 'y'? (valid keys: ...)". A key is suggested
 * when it is within 2 edits, or when one name contains the other (at least 4
 * characters: "num_workers" -> "workers"). */
std::string UnknownKeyMessage(const std::vector<KeySpec> &table, const std::string &prefix, const std::string &name) {
  const std::string *best = nullptr;
  size_t best_distance = std::numeric_limits<size_t>::max();
  std::string valid;
  std::vector<std::string> names;
  for (const KeySpec &spec : table) names.push_back(spec.key_.substr(prefix.size()));
  for (const std::string &key : names) {
    valid += (valid.empty() ? "" : ", ") + key;
    size_t distance = EditDistance(name, key);
    bool contains = std::min(name.size(), key.size()) >= 4 &&
                    (name.find(key) != std::string::npos || key.find(name) != std::string::npos);
    if ((distance <= 2 || contains) && distance < best_distance) {
      best = &key;
      best_distance = distance;
    }
  }
  std::string msg = "unknown key '" + prefix + name + "'";
  if (best != nullptr) {
    msg += "; did you mean '" + prefix + *best + "'?";
  }
  return msg + " (valid keys" + (prefix.empty() ? "" : " of '" + prefix.substr(0, prefix.size() - 1) + "'") + ": " +
         valid + ")";
}

/** Override `cfg` with the keys of the YAML document `text`. */
void ApplyYaml(const std::string &text, const std::string &source, ServerConfig &cfg) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception &e) {
    ThrowAt(source, e.mark.is_null() ? 1 : e.mark.line + 1, "malformed YAML: " + e.msg);
  }
  if (docs.empty()) {
    return;  // empty, or only comments
  }
  if (docs.size() > 1) {
    ThrowAt(source, LineOf(docs[1], 1),
            "expected one YAML document, found " + std::to_string(docs.size()) + " (remove the extra '---')");
  }
  const YAML::Node &root = docs[0];
  if (root.IsNull()) {
    return;
  }
  if (!root.IsMap()) {
    ThrowAt(source, LineOf(root, 1),
            "expected a map of configuration keys at top level, found " + Describe(root));
  }
  ApplyMap(root, source, Keys(), "", cfg);
}

/** Apply the keys of the YAML map `map` from `table` (whose names carry
 * `prefix`, e.g. "networking."). Unknown and duplicate keys are errors. */
void ApplyMap(const YAML::Node &map, const std::string &source, const std::vector<KeySpec> &table,
              const std::string &prefix, ServerConfig &cfg) {
  std::map<std::string, int> seen;  // key -> line, to reject duplicates
  for (const auto &kv : map) {
    const int key_line = LineOf(kv.first, 1);
    if (!kv.first.IsScalar()) {
      ThrowAt(source, key_line, "expected a key name, found " + Describe(kv.first));
    }
    const std::string &name = kv.first.Scalar();
    const KeySpec *spec = FindKeyIn(table, prefix, name);
    if (spec == nullptr) {
      ThrowAt(source, key_line, UnknownKeyMessage(table, prefix, name));
    }
    if (auto [it, inserted] = seen.emplace(name, key_line); !inserted) {
      ThrowAt(source, key_line,
              "duplicate key '" + prefix + name + "' (first set at line " + std::to_string(it->second) + ")");
    }
    // Errors point at the key's line: a null value has no useful mark, and a
    // block map/list value starts on the next line. List items get their own.
    spec->parse_(Field{source, key_line, spec, kv.second}, cfg);
  }
}

/** Contents of `path`; throws ConfigError "<path>: cannot read config file: <reason>". */
[[noreturn]] void ThrowReadError(const std::string &path, int err) {
  throw ConfigError(path + ": cannot read config file: " + std::strerror(err));
}

std::string ReadFile(const std::string &path) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    ThrowReadError(path, errno);
  }
  std::string text;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
  }
  const bool error = std::ferror(f) != 0;
  const int err = errno;  // EISDIR for a directory
  std::fclose(f);
  if (error) {
    ThrowReadError(path, err);
  }
  return text;
}

}  // namespace

ServerConfig ServerConfig::FromYamlString(const std::string &text, const std::string &source_name) {
  ServerConfig cfg;
  ApplyYaml(text, source_name, cfg);
  return cfg;
}

ServerConfig ServerConfig::FromYamlFile(const std::string &path) { return FromYamlString(ReadFile(path), path); }

ServerConfig ServerConfig::Load() {
  ServerConfig cfg;
  if (const char *port = std::getenv("CHI_PORT"); port != nullptr && *port != '\0') {
    // Same parser and range as the YAML key, so the message matches.
    const KeySpec *spec = FindKey("port");
    spec->parse_(Field{"environment variable CHI_PORT", 0, spec, YAML::Node(std::string(port))}, cfg);
  }
  if (const char *path = std::getenv("CHI_SERVER_CONF"); path != nullptr && *path != '\0') {
    std::string text;
    try {
      text = ReadFile(path);
    } catch (const ConfigError &e) {
      throw ConfigError(std::string("CHI_SERVER_CONF names a file that cannot be read: ") + e.what());
    }
    ApplyYaml(text, path, cfg);
  }
  return cfg;
}

std::string ServerConfig::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const KeySpec &spec : Keys()) {
    out << YAML::Key << spec.key_ << YAML::Value;
    spec.emit_(out, *this);
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

namespace {
[[noreturn]] void ThrowSizeError(const std::string &text, const std::string &why) {
  throw ConfigError("invalid size '" + text + "': " + why);
}
}  // namespace

u64 ParseSize(const std::string &text) {
  struct Unit {
    std::string_view name_;
    u64 multiplier_;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},          {"b", 1},          {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
      {"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20}, {"g", 1ull << 30}, {"gb", 1ull << 30},
      {"gib", 1ull << 30}, {"t", 1ull << 40}, {"tb", 1ull << 40}, {"tib", 1ull << 40},
  };
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  if (begin == end) {
    ThrowSizeError(text, "empty");
  }
  if (text[begin] == '-') {
    ThrowSizeError(text, "sizes cannot be negative");
  }
  size_t digits_end = begin;
  while (digits_end < end && std::isdigit(static_cast<unsigned char>(text[digits_end]))) ++digits_end;
  if (digits_end == begin) {
    ThrowSizeError(text, "expected a non-negative integer, optionally followed by a unit (k, m, g, t)");
  }
  u64 value = 0;
  auto [ptr, ec] = std::from_chars(text.data() + begin, text.data() + digits_end, value);
  if (ec != std::errc() || ptr != text.data() + digits_end) {
    ThrowSizeError(text, "does not fit in 64 bits");
  }
  if (digits_end < end && text[digits_end] == '.') {
    ThrowSizeError(text, "fractions are not supported; use a smaller unit (e.g. 1536m instead of 1.5g)");
  }
  size_t unit_begin = digits_end;
  while (unit_begin < end && is_space(text[unit_begin])) ++unit_begin;
  std::string unit = text.substr(unit_begin, end - unit_begin);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const Unit &u : kUnits) {
    if (u.name_ == unit) {
      if (value > std::numeric_limits<u64>::max() / u.multiplier_) {
        ThrowSizeError(text, "does not fit in 64 bits");
      }
      return value * u.multiplier_;
    }
  }
  ThrowSizeError(text, "unknown unit '" + text.substr(unit_begin, end - unit_begin) +
       "' (accepted, case-insensitive: b, k/kb/kib, m/mb/mib, g/gb/gib, t/tb/tib; all binary multiples)");
}

u64 ParseDurationMs(const std::string &text) {
  auto fail = [&](const std::string &why) -> void { throw ConfigError("invalid duration '" + text + "': " + why); };
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) fail("expected a non-negative integer followed by a unit (ms, s, m), e.g. 250ms or 5s");
  u64 value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc() || ptr != text.data() + i) fail("does not fit in 64 bits");
  std::size_t u = i;
  while (u < text.size() && text[u] == ' ') ++u;
  const std::string unit = text.substr(u);
  u64 mult = 0;
  if (unit == "ms") mult = 1;
  else if (unit == "s") mult = 1000;
  else if (unit == "m" || unit == "min") mult = 60000;
  else if (unit.empty()) fail("a unit is required (ms, s, m)");
  else if (!unit.empty() && unit[0] == '.') fail("fractions are not supported; use a smaller unit (1500ms, not 1.5s)");
  else fail("unknown unit '" + unit + "' (accepted: ms, s, m)");
  if (value > std::numeric_limits<u64>::max() / mult) fail("does not fit in 64 bits");
  return value * mult;
}

ClusterConfig ResolveCluster(const ServerConfig &cfg) {
  ClusterConfig out;
  const NetworkConfig &n = cfg.networking;
  if (!n.IsCluster()) return out;
  try {
    if (!n.hostfile.empty()) {
      out.table = net::NodeTable::FromFile(n.hostfile, cfg.port);
    } else {
      std::vector<net::NodeEntry> entries;
      for (std::size_t i = 0; i < n.hosts.size(); ++i) entries.push_back({n.hosts[i], static_cast<int>(i + 1)});
      out.table = net::NodeTable::FromEntries(entries, "networking.hosts item", cfg.port);
    }
    net::SelfResolution self = net::ResolveSelf(out.table, n.node_id);
    out.self = self.node_id;
    out.how = self.how;
  } catch (const net::NodeTableError &e) {
    throw ConfigError(e.what());
  }
  return out;
}

u32 DefaultWorkers() noexcept {
  unsigned cores = std::thread::hardware_concurrency();
  if (cores <= 1) return 1;
  return std::min(8u, cores - 1);
}

}  // namespace chi
