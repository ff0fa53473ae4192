// Node table: hostfile syntax, bracket ranges, errors with file:line, the
// cluster identity, and this node's id (config, environment, local address).
#include "chimaera/net/node_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

using chi::net::ExpandHostPattern;
using chi::net::NodeTable;
using chi::net::NodeTableError;
using chi::net::ResolveSelf;

namespace {
std::string ErrorOf(const std::string &text) {
  try {
    NodeTable::Parse(text, "hosts.txt", 9413);
  } catch (const NodeTableError &e) {
    return e.what();
  }
  return "";
}
std::function<const char *(const char *)> Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char *name) -> const char * {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST(NodeTable, ParsesHostsPortsCommentsAndRanges) {
  NodeTable t = NodeTable::Parse(
      "# cluster\n"
      "node01\n"
      "  node02:9500   # its own port\n"
      "\n"
      "node[03-05]\n"
      "10.0.0.[1-2,7]:7000\n",
      "hosts.txt", 9413);
  std::vector<std::string> got;
  for (const auto &n : t.Nodes()) got.push_back(n.ToString());
  EXPECT_EQ(got, (std::vector<std::string>{"node01:9413", "node02:9500", "node03:9413", "node04:9413", "node05:9413",
                                           "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.7:7000"}));
  EXPECT_EQ(t.At(1).Endpoint(), "tcp://node02:9500");
}

TEST(NodeTable, ExpandsSeveralGroupsAndKeepsPadding) {
  EXPECT_EQ(ExpandHostPattern("r[1-2]n[08-10]"),
            (std::vector<std::string>{"r1n08", "r1n09", "r1n10", "r2n08", "r2n09", "r2n10"}));
  EXPECT_EQ(ExpandHostPattern("host"), (std::vector<std::string>{"host"}));
  EXPECT_THROW(ExpandHostPattern("n[1-1000000000]"), std::invalid_argument);
}

TEST(NodeTable, ErrorsNameFileLineAndEntry) {
  EXPECT_EQ(ErrorOf("a\nnode[5-\n"), "hosts.txt:2: entry 'node[5-': unclosed '['");
  EXPECT_EQ(ErrorOf("a\nb\na\n"), "hosts.txt:3: entry 'a': 'a:9413' is listed twice (first at line 1)");
  EXPECT_EQ(ErrorOf("n[1-3]\nn2\n"), "hosts.txt:2: entry 'n2': 'n2:9413' is listed twice (first at line 1)");
  EXPECT_EQ(ErrorOf("a:99999\n"), "hosts.txt:1: entry 'a:99999': port '99999' is not a number in 1..65535");
  EXPECT_EQ(ErrorOf("a:\n"), "hosts.txt:1: entry 'a:': port '' is not a number in 1..65535");
  EXPECT_EQ(ErrorOf("n[3-1]\n"), "hosts.txt:1: entry 'n[3-1]': reversed range '3-1'");
  EXPECT_EQ(ErrorOf("n[a-b]\n"), "hosts.txt:1: entry 'n[a-b]': 'a-b' is not a number or a range a-b");
  EXPECT_EQ(ErrorOf("a b\n"), "hosts.txt:1: entry 'a b': one host per line (found spaces)");
  EXPECT_EQ(ErrorOf("bad/host\n"),
            "hosts.txt:1: entry 'bad/host': character '/' is not allowed in a host name (letters, digits, '-', '.', "
            "'_')");
  EXPECT_EQ(ErrorOf("# nothing\n\n"), "hosts.txt: the node table has no entries");
  // Same host on two ports is two nodes (several nodes on one machine).
  EXPECT_EQ(ErrorOf("a:1\na:2\n"), "");
}

TEST(NodeTable, FromFileNamesAnUnreadableFile) {
  try {
    NodeTable::FromFile("/nonexistent/hosts", 1);
    FAIL();
  } catch (const NodeTableError &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/hosts: cannot read hostfile"), std::string::npos) << e.what();
  }
  char path[] = "/tmp/chi_hosts_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "127.0.0.2\n127.0.0.3\n127.0.0.2\n";
  try {
    NodeTable::FromFile(path, 1);
    FAIL();
  } catch (const NodeTableError &e) {
    EXPECT_EQ(std::string(e.what()), std::string(path) + ":3: entry '127.0.0.2': '127.0.0.2:1' is listed twice "
                                                         "(first at line 1)");
  }
  unlink(path);
}

TEST(NodeTable, IdentityDependsOnEveryEntryAndItsOrder) {
  NodeTable a = NodeTable::Parse("a\nb\n", "x", 1), b = NodeTable::Parse("b\na\n", "x", 1),
            c = NodeTable::Parse("a\nb:2\n", "x", 1), a2 = NodeTable::FromEntries({{"a", 1}, {"b", 2}}, "y", 1);
  EXPECT_NE(a.Identity(), b.Identity());
  EXPECT_NE(a.Identity(), c.Identity());
  EXPECT_EQ(a.Identity(), a2.Identity());
  EXPECT_EQ(a.Describe(), "2 nodes: a:1, b:1");
}

TEST(NodeTable, SelfFromConfigThenEnvironmentInOrder) {
  NodeTable t = NodeTable::Parse("h0\nh1\nh2\n", "x", 1);
  EXPECT_EQ(ResolveSelf(t, 2, Env({{"CHI_NODE_ID", "1"}})).node_id, 2u);
  auto r = ResolveSelf(t, -1, Env({{"CHI_NODE_ID", "1"}, {"SLURM_NODEID", "2"}}));
  EXPECT_EQ(r.node_id, 1u);
  EXPECT_EQ(r.how, "environment variable CHI_NODE_ID");
  EXPECT_EQ(ResolveSelf(t, -1, Env({{"SLURM_NODEID", "2"}, {"SLURM_PROCID", "0"}})).node_id, 2u);
  EXPECT_EQ(ResolveSelf(t, -1, Env({{"SLURM_PROCID", "1"}})).node_id, 1u);
  EXPECT_EQ(ResolveSelf(t, -1, Env({{"OMPI_COMM_WORLD_RANK", "2"}})).node_id, 2u);
  EXPECT_EQ(ResolveSelf(t, -1, Env({{"PMI_RANK", "0"}})).node_id, 0u);
  try {
    ResolveSelf(t, -1, Env({{"PMI_RANK", "3"}}));
    FAIL();
  } catch (const NodeTableError &e) {
    EXPECT_EQ(std::string(e.what()),
              "environment variable PMI_RANK is 3, but the node table has 3 node(s) (ids 0..2)");
  }
  EXPECT_THROW(ResolveSelf(t, -1, Env({{"CHI_NODE_ID", "one"}})), NodeTableError);
  EXPECT_THROW(ResolveSelf(t, 5, Env({})), NodeTableError);
}

TEST(NodeTable, SelfByLocalAddressOrHostName) {
  // 127.0.0.1 is an address of lo; 10.255.255.254 is not ours.
  NodeTable t = NodeTable::Parse("10.255.255.254\n127.0.0.1\n", "x", 1);
  auto r = ResolveSelf(t, -1, Env({}));
  EXPECT_EQ(r.node_id, 1u);
  EXPECT_EQ(r.how, "local address 127.0.0.1");
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  NodeTable byname = NodeTable::Parse(std::string("other-host\n") + host + "\n", "x", 1);
  EXPECT_EQ(ResolveSelf(byname, -1, Env({})).node_id, 1u);
  // None matches: the message lists the table and what this machine is.
  NodeTable none = NodeTable::Parse("10.255.255.253\n10.255.255.254\n", "x", 1);
  try {
    ResolveSelf(none, -1, Env({}));
    FAIL();
  } catch (const NodeTableError &e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no entry of the node table (2 nodes: 10.255.255.253:1, 10.255.255.254:1)"), std::string::npos) << m;
    EXPECT_NE(m.find("127.0.0.1"), std::string::npos) << m;
    EXPECT_NE(m.find("set networking.node_id or CHI_NODE_ID"), std::string::npos) << m;
  }
  // Several match (two nodes on this machine): the candidates are listed.
  NodeTable two = NodeTable::Parse("127.0.0.1:1\n127.0.0.1:2\n", "x", 1);
  try {
    ResolveSelf(two, -1, Env({}));
    FAIL();
  } catch (const NodeTableError &e) {
    EXPECT_NE(std::string(e.what()).find("several entries of the node table match this machine: 0 (127.0.0.1:1), 1 "
                                         "(127.0.0.1:2)"),
              std::string::npos)
        << e.what();
  }
}
