#!/usr/bin/env python3
"""bantin's benchmark scenarios against their peers (stdlib only).

Each scenario measures bantin and the peer in the same run, on the same
corpus, and reports medians over several runs with the ratio. Timings on a
shared 2-core machine are noisy: compare ratios, not absolute numbers.

Scenario 1, cold start: `bantin build` of every feed vs `hugo` building the
same content's RSS (50 items per feed), wall time and peak RSS.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
BANTIN = os.environ.get("BANTIN_BIN") or os.path.join(ROOT, "target", "release", "bantin")


def gen_corpus(n, out):
    subprocess.run(
        [sys.executable, os.path.join(SHARED, "tools", "gen_corpus.py"),
         "--count", str(n), "--out", out, "--seed", "1", "--format", "markdown"],
        check=True, stderr=subprocess.DEVNULL)


def timed(cmd, cwd=None, env=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS in MiB)."""
    out = tempfile.NamedTemporaryFile(delete=False)
    out.close()
    start = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + cmd,
                   cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = time.perf_counter() - start
    with open(out.name) as f:
        kib = int(f.read().strip().splitlines()[-1])
    os.unlink(out.name)
    return secs, kib / 1024


def median_of(runs, fn):
    results = [fn() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


HUGO_CONFIG = """baseURL = "https://yenbai.gov.vn/"
languageCode = "vi"
title = "Cổng thông tin điện tử tỉnh Yên Bái"
disableKinds = ["page", "sitemap", "robotsTXT", "404"]
rssLimit = 50
[outputs]
home = ["RSS"]
section = ["RSS"]
taxonomy = ["RSS"]
term = ["RSS"]
[taxonomies]
category = "categories"
"""

BANTIN_CONFIG = """[site]
title = "Cổng thông tin điện tử tỉnh Yên Bái"
base_url = "https://yenbai.gov.vn"
[store]
path = "{store}"
[feeds]
items = 50
"""


def cold_start(sizes, runs, work):
    rows = []
    for n in sizes:
        site = os.path.join(work, f"site-{n}")
        posts = os.path.join(site, "content", "posts")
        if not os.path.isdir(posts):
            gen_corpus(n, posts)
        with open(os.path.join(site, "hugo.toml"), "w") as f:
            f.write(HUGO_CONFIG)
        cfg = os.path.join(work, f"bantin-{n}.toml")
        with open(cfg, "w") as f:
            f.write(BANTIN_CONFIG.format(store=posts))
        out = os.path.join(work, f"out-{n}")

        def bantin():
            shutil.rmtree(out, ignore_errors=True)
            return timed([BANTIN, "--config", cfg, "build", "--out", out])

        def hugo():
            pub = os.path.join(site, "public")
            shutil.rmtree(pub, ignore_errors=True)
            return timed(["hugo", "--quiet", "--source", site, "--destination", pub])

        b_s, b_m = median_of(runs, bantin)
        h_s, h_m = median_of(runs, hugo)
        rows.append((f"cold build {n:,} articles: wall s", b_s, h_s, h_s / b_s, "≥ 5x faster" if n == 10000 else ""))
        rows.append((f"cold build {n:,} articles: peak MiB", b_m, h_m, h_m / b_m, "≥ 10x less" if n == 10000 else ""))
    return rows


def print_table(rows, peer):
    print()
    print(f"{'scenario':44} {'bantin':>10} {peer:>10} {'ratio':>8}  target")
    for name, ours, theirs, ratio, target in rows:
        print(f"{name:44} {ours:10.3f} {theirs:10.3f} {ratio:7.1f}x  {target}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 1,000 articles, one repetition")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    sizes = [1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 1 if args.quick else args.runs
    work = os.environ.get("BANTIN_BENCH_DIR") or os.path.join(tempfile.gettempdir(), "bantin-bench")
    os.makedirs(work, exist_ok=True)
    print(f"bantin bench: sizes {sizes}, median of {runs} run(s), work dir {work}")
    hugo_version = subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.split()[:2]
    print("peer:", " ".join(hugo_version))
    print_table(cold_start(sizes, runs, work), "hugo")


if __name__ == "__main__":
    main()
