"""The distributed main job (scripts/main.sh --nodes N runs this): the
compressor pool spans two local nodes, files are placed by GetDirectHash of
their path, every byte is verified, and the report gives each node's share
and the single-node column."""
from __future__ import annotations

import os
import re
import subprocess

import chimaera
from chimaera import _paths
from conftest import child_env


def test_compress_dir_spreads_files_over_two_nodes(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(40):
        (corpus / f"f{i}.txt").write_bytes((f"line {i} " * (200 + 50 * i)).encode())
    exe = _paths.runtime_executable().parent / "chimaera_compress_dir"
    with chimaera.start_cluster(local=2) as cl:
        env = dict(child_env(), CHI_PORT=str(cl.port), CHI_HOST=cl.nodes[0].host)
        out = subprocess.run([str(exe), str(corpus), "--spread", "hash", "--rounds", "1", "--no-baselines"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        # Its pools were destroyed on every node.
        for k in range(2):
            pools = cl.connect(k).status()["pools"]
            assert [p["name"] for p in pools if p["name"].startswith("compress_dir")] == [], pools
    assert "Chimaera 2 nodes" in out.stdout and "Chimaera 1 node" in out.stdout
    shares = {int(n): int(f) for n, f in re.findall(r"^node (\d+): (\d+) files", out.stdout, re.M)}
    assert sorted(shares) == [0, 1] and sum(shares.values()) == 40 and min(shares.values()) > 0, out.stdout
    assert re.search(r"files \(verified / skipped\)\s+40 / 0\s+40 / 0", out.stdout), out.stdout
    assert os.path.exists(exe)
