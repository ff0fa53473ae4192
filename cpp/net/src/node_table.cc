/**
 * @file node_table.cc
 * Hostfile parsing, bracket-range expansion and self resolution (node_table.h).
 */
#include "chimaera/net/node_table.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace chi::net {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ParseU64(std::string_view s, u64 &out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// One group "01-03,7" -> {"01","02","03","7"} (zero padding of each range's
// start kept).
std::vector<std::string> ExpandGroup(std::string_view group) {
  std::vector<std::string> out;
  if (Trim(group).empty()) throw std::invalid_argument("empty '[]'");
  std::size_t start = 0;
  while (start <= group.size()) {
    std::size_t comma = group.find(',', start);
    std::string_view item = Trim(group.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                                      : comma - start));
    if (item.empty()) throw std::invalid_argument("empty item in '[" + std::string(group) + "]'");
    std::size_t dash = item.find('-');
    std::string_view lo_s = Trim(item.substr(0, dash));
    std::string_view hi_s = dash == std::string_view::npos ? lo_s : Trim(item.substr(dash + 1));
    u64 lo = 0, hi = 0;
    if (!ParseU64(lo_s, lo) || !ParseU64(hi_s, hi))
      throw std::invalid_argument("'" + std::string(item) + "' is not a number or a range a-b");
    if (hi < lo) throw std::invalid_argument("reversed range '" + std::string(item) + "'");
    if (hi - lo >= NodeTable::kMaxNodes)
      throw std::invalid_argument("range '" + std::string(item) + "' has more than " +
                                  std::to_string(NodeTable::kMaxNodes) + " hosts");
    const std::size_t width = lo_s.size();
    for (u64 v = lo; v <= hi; ++v) {
      std::string digits = std::to_string(v);
      if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
      out.push_back(std::move(digits));
      if (out.size() > NodeTable::kMaxNodes)
        throw std::invalid_argument("more than " + std::to_string(NodeTable::kMaxNodes) + " hosts");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

bool ValidHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Split "host:port" at the last ':' outside brackets.
void SplitHostPort(std::string_view entry, std::string_view &host, std::string_view &port) {
  int depth = 0;
  std::size_t colon = std::string_view::npos;
  for (std::size_t i = 0; i < entry.size(); ++i) {
    if (entry[i] == '[') ++depth;
    else if (entry[i] == ']') --depth;
    else if (entry[i] == ':' && depth == 0) colon = i;
  }
  host = colon == std::string_view::npos ? entry : entry.substr(0, colon);
  port = colon == std::string_view::npos ? std::string_view() : entry.substr(colon + 1);
}

std::set<std::string> LocalAddresses() {
  std::set<std::string> out;
  ifaddrs *list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs *a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN] = {};
    auto *sin = reinterpret_cast<sockaddr_in *>(a->ifa_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) != nullptr) out.insert(buf);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

bool IsIpv4Literal(std::string_view host) noexcept {
  in_addr addr{};
  std::string s(host);
  return inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

std::vector<std::string> ExpandHostPattern(std::string_view pattern) {
  std::vector<std::string> results{""};
  std::size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '[') {
      std::size_t close = pattern.find(']', i);
      if (close == std::string_view::npos) throw std::invalid_argument("unclosed '['");
      std::vector<std::string> items = ExpandGroup(pattern.substr(i + 1, close - i - 1));
      if (results.size() * items.size() > NodeTable::kMaxNodes)
        throw std::invalid_argument("more than " + std::to_string(NodeTable::kMaxNodes) + " hosts");
      std::vector<std::string> next;
      next.reserve(results.size() * items.size());
      for (const std::string &prefix : results)
        for (const std::string &item : items) next.push_back(prefix + item);
      results = std::move(next);
      i = close + 1;
    } else if (c == ']') {
      throw std::invalid_argument("']' without '['");
    } else {
      if (!ValidHostChar(c))
        throw std::invalid_argument(std::string("character '") + c +
                                    "' is not allowed in a host name (letters, digits, '-', '.', '_')");
      for (std::string &r : results) r.push_back(c);
      ++i;
    }
  }
  if (results.size() == 1 && results[0].empty()) throw std::invalid_argument("empty host");
  return results;
}

NodeTable NodeTable::FromEntries(const std::vector<NodeEntry> &entries, const std::string &source, u16 default_port) {
  std::vector<NodeAddress> nodes;
  std::map<std::string, int> seen;  // "host:port" -> line
  for (const NodeEntry &e : entries) {
    const std::string where = source + ":" + std::to_string(e.line);
    std::string_view entry = Trim(e.text);
    auto fail = [&](const std::string &why) -> void {
      throw NodeTableError(where + ": entry '" + std::string(entry) + "': " + why);
    };
    std::string_view host_pattern, port_text;
    SplitHostPort(entry, host_pattern, port_text);
    u16 port = default_port;
    if (entry.find(':') != std::string_view::npos) {
      u64 p = 0;
      if (!ParseU64(port_text, p) || p == 0 || p > 65535) fail("port '" + std::string(port_text) +
                                                              "' is not a number in 1..65535");
      port = static_cast<u16>(p);
    }
    std::vector<std::string> hosts;
    try {
      hosts = ExpandHostPattern(host_pattern);
    } catch (const std::invalid_argument &ex) {
      fail(ex.what());
    }
    for (std::string &h : hosts) {
      NodeAddress addr{std::move(h), port};
      const std::string key = addr.ToString();
      if (auto [it, fresh] = seen.emplace(key, e.line); !fresh)
        fail("'" + key + "' is listed twice (first at line " + std::to_string(it->second) + ")");
      nodes.push_back(std::move(addr));
      if (nodes.size() > kMaxNodes) fail("the table has more than " + std::to_string(kMaxNodes) + " nodes");
    }
  }
  if (nodes.empty()) throw NodeTableError(source + ": the node table has no entries");
  return NodeTable(std::move(nodes));
}

NodeTable NodeTable::Parse(std::string_view text, const std::string &source, u16 default_port) {
  std::vector<NodeEntry> entries;
  int line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    ++line_no;
    if (std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (!line.empty()) {
      // One entry per line: "host other" is a typo, not two hosts.
      if (std::any_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); }))
        throw NodeTableError(source + ":" + std::to_string(line_no) + ": entry '" + std::string(line) +
                             "': one host per line (found spaces)");
      entries.push_back({std::string(line), line_no});
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return FromEntries(entries, source, default_port);
}

NodeTable NodeTable::FromFile(const std::string &path, u16 default_port) {
  std::ifstream in(path);
  if (!in) throw NodeTableError(path + ": cannot read hostfile: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path, default_port);
}

u64 NodeTable::Identity() const noexcept {
  u64 h = 1469598103934665603ull;
  for (const NodeAddress &n : nodes_) {
    const std::string s = n.ToString() + "\n";
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  return h;
}

std::string NodeTable::Describe() const {
  std::string out = std::to_string(nodes_.size()) + (nodes_.size() == 1 ? " node: " : " nodes: ");
  for (std::size_t i = 0; i < nodes_.size() && i < 8; ++i) out += (i ? ", " : "") + nodes_[i].ToString();
  if (nodes_.size() > 8) out += ", ...";
  return out;
}

SelfResolution ResolveSelf(const NodeTable &table, i64 explicit_id,
                           const std::function<const char *(const char *)> &getenv) {
  const u64 n = table.Size();
  auto check = [&](u64 id, const std::string &how) {
    if (id >= n)
      throw NodeTableError(how + " is " + std::to_string(id) + ", but the node table has " + std::to_string(n) +
                           " node(s) (ids 0.." + std::to_string(n - 1) + ")");
    return SelfResolution{static_cast<u32>(id), how};
  };
  if (explicit_id >= 0) return check(static_cast<u64>(explicit_id), "config key node_id");
  for (const char *var : {"CHI_NODE_ID", "SLURM_NODEID", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"}) {
    const char *v = getenv(var);
    if (v == nullptr || *v == '\0') continue;
    u64 id = 0;
    if (!ParseU64(Trim(v), id))
      throw NodeTableError(std::string("environment variable ") + var + " is '" + v + "', not a node id");
    return check(id, std::string("environment variable ") + var);
  }
  const std::set<std::string> local = LocalAddresses();
  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  const std::string full(hostname), short_name = full.substr(0, full.find('.'));
  std::vector<u32> matches;
  std::vector<std::string> why;
  for (u32 i = 0; i < n; ++i) {
    const std::string &h = table.At(i).host;
    if (local.count(h)) {
      matches.push_back(i);
      why.push_back("local address " + h);
    } else if (!IsIpv4Literal(h) && (h == full || h == short_name || h.substr(0, h.find('.')) == full)) {
      matches.push_back(i);
      why.push_back("host name " + h);
    }
  }
  if (matches.size() == 1) return SelfResolution{matches[0], why[0]};
  std::string addrs;
  for (const std::string &a : local) addrs += (addrs.empty() ? "" : ", ") + a;
  if (matches.empty())
    throw NodeTableError("cannot tell which node this is: no entry of the node table (" + table.Describe() +
                         ") is this machine's host name '" + full + "' or one of its addresses (" + addrs +
                         "); set networking.node_id or CHI_NODE_ID");
  std::string cands;
  for (std::size_t i = 0; i < matches.size(); ++i)
    cands += (i ? ", " : "") + std::to_string(matches[i]) + " (" + table.At(matches[i]).ToString() + ")";
  throw NodeTableError("cannot tell which node this is: several entries of the node table match this machine: " +
                       cands + "; set networking.node_id or CHI_NODE_ID");
}

SelfResolution ResolveSelf(const NodeTable &table, i64 explicit_id) {
  return ResolveSelf(table, explicit_id, [](const char *v) { return std::getenv(v); });
}

}  // namespace chi::net
