#!/usr/bin/env bash
# Benchmark of `bantin serve` (a measurement, not a test: it prints numbers
# and the ratios to nginx, and never fails on them).
#
#   bench/serve.sh [--articles 10000] [--writes 50] [--duration 10] [--debounce-ms 200]
#
# 1. latency from an article file written into a store of N articles to the
#    new item being served over HTTP (median and p99 over --writes writes,
#    each written to a temporary name and renamed, as rsync and editors do);
#    the target is p99 under 100 ms after the debounce;
# 2. requests/s for gzip 200 and for 304 answers of the site RSS feed, with
#    wrk on loopback, against nginx serving the very same bytes from files
#    (gzip_static) on the same machine; target: bantin >= nginx.
#
# Installs wrk and nginx from Debian when missing (apt-get), builds bantin
# with --release, and generates the corpus with ../shared/tools/gen_corpus.py
# (override with GEN_CORPUS=/path/to/gen_corpus.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"

articles=10000
writes=50
duration=10
debounce_ms=200
while [ $# -gt 0 ]; do
    case "$1" in
        --articles) articles="$2"; shift ;;
        --writes) writes="$2"; shift ;;
        --duration) duration="$2"; shift ;;
        --debounce-ms) debounce_ms="$2"; shift ;;
        *) echo "usage: $0 [--articles N] [--writes N] [--duration S] [--debounce-ms MS]" >&2; exit 64 ;;
    esac
    shift
done

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

gen="${GEN_CORPUS:-$repo/../shared/tools/gen_corpus.py}"
[ -f "$gen" ] || { echo "gen_corpus.py not found at $gen (set GEN_CORPUS)" >&2; exit 69; }

echo "building bantin (release)"
cargo build --release --quiet
bin="$repo/target/release/bantin"

work="$(mktemp -d /tmp/bantin-bench.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "generating $articles articles"
python3 "$gen" --count "$articles" --out "$work/store" --seed 1 --format markdown >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
cat >"$work/bantin.toml" <<EOF
[site]
title = "Cổng thông tin điện tử tỉnh Yên Bái"
base_url = "https://yenbai.gov.vn"
[store]
path = "$work/store"
debounce_ms = $debounce_ms
[feeds]
items = 50
[http]
listen = "127.0.0.1:$port"
EOF

echo "starting bantin serve"
started=$(date +%s.%N)
: >"$work/bantin.log"
"$bin" serve --config "$work/bantin.toml" 2>"$work/bantin.log" &
pids+=($!)
until grep -q "listening on" "$work/bantin.log"; do
    sleep 0.05
    kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/bantin.log"; exit 1; }
done
ready=$(date +%s.%N)
base="http://127.0.0.1:$port"


# Load first, on the corpus' own site feed (the latency writes below put
# small articles on top of it). The feed as bantin serves it, in both
# forms, for nginx to serve too.
mkdir -p "$work/www"
curl -s -H 'Accept-Encoding: identity' "$base/feed.xml" -o "$work/www/feed.xml"
curl -s -H 'Accept-Encoding: gzip' "$base/feed.xml" -o "$work/www/feed.xml.gz"
touch -r "$work/www/feed.xml" "$work/www/feed.xml.gz"
chmod -R a+rX "$work/www"
etag_gz="$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "$base/feed.xml" | tr -d '\r' | sed -n 's/^etag: //Ip')"
size_id=$(stat -c %s "$work/www/feed.xml")
size_gz=$(stat -c %s "$work/www/feed.xml.gz")

nport="$(free_port)"
cat >"$work/nginx.conf" <<EOF
worker_processes auto;
daemon off;
user nobody nogroup;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx-tmp;
    proxy_temp_path $work/nginx-tmp;
    fastcgi_temp_path $work/nginx-tmp;
    uwsgi_temp_path $work/nginx-tmp;
    scgi_temp_path $work/nginx-tmp;
    types { application/rss+xml xml; }
    server {
        listen 127.0.0.1:$nport;
        root $work/www;
        gzip_static on;
        gzip_vary on;
        etag on;
        add_header Cache-Control "public, max-age=300";
    }
}
EOF
mkdir -p "$work/nginx-tmp"
"$NGINX" -c "$work/nginx.conf" -p "$work" &
pids+=($!)
nbase="http://127.0.0.1:$nport"
for _ in $(seq 100); do curl -s -o /dev/null "$nbase/feed.xml" && break; sleep 0.05; done
netag_gz="$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "$nbase/feed.xml" | tr -d '\r' | sed -n 's/^etag: //Ip')"
nlm="$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "$nbase/feed.xml" | tr -d '\r' | sed -n 's/^last-modified: //Ip')"
ngz_len="$(curl -s -H 'Accept-Encoding: gzip' "$nbase/feed.xml" | wc -c)"
[ "$ngz_len" = "$size_gz" ] || echo "warning: nginx gzip body is $ngz_len bytes, bantin's $size_gz"

rps() { # url, extra wrk args...
    local url="$1"; shift
    wrk -t2 -c64 -d"${duration}s" "$@" "$url" 2>/dev/null | awk '/Requests\/sec/ { print $2 }'
}
echo "load: bantin gzip 200"
b200=$(rps "$base/feed.xml" -H 'Accept-Encoding: gzip')
echo "load: bantin 304"
b304=$(rps "$base/feed.xml" -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag_gz")
echo "load: nginx gzip 200"
n200=$(rps "$nbase/feed.xml" -H 'Accept-Encoding: gzip')
echo "load: nginx 304"
n304=$(rps "$nbase/feed.xml" -H 'Accept-Encoding: gzip' -H "If-None-Match: $netag_gz" -H "If-Modified-Since: $nlm")
# Sanity: the 304 runs really were 304s.
code_b=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag_gz" "$base/feed.xml")
code_n=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: $netag_gz" -H "If-Modified-Since: $nlm" "$nbase/feed.xml")

echo "measuring write-to-served latency ($writes writes)"
latency="$(python3 - "$work/store" "$base" "$writes" <<'PY'
import gzip, http.client, os, sys, time, statistics
store, base, writes = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = base.split("//")[1]
conn = http.client.HTTPConnection(host, timeout=10)
etag = ""
def body():
    # As a feed reader polls: conditional and gzip, so that polling every
    # 2 ms costs the server (and this machine's 2 cores) little.
    global etag
    conn.request("GET", "/feed.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        return b""
    etag = r.getheader("ETag") or ""
    return gzip.decompress(data)
samples = []
for i in range(writes):
    title = f"Tin đo độ trễ số {i} {time.time_ns()}"
    # Newer than the whole corpus but in the past (future articles wait
    # for their time): a minute apart, ending a few minutes ago.
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 600 - 60 * (writes - i)))
    text = (f'+++\ntitle = "{title}"\ndate = "{date}"\n'
            f'categories = ["Đo đạc"]\nsummary = "Bài đo độ trễ"\n+++\n\nNội dung.\n')
    tmp = os.path.join(store, f".bench-{i}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(store, f"bench-{i}.md"))
    needle = title.encode()
    while needle not in body():
        time.sleep(0.002)
    samples.append((time.monotonic() - t0) * 1000)
    time.sleep(0.3)
samples.sort()
p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
print(f"{statistics.median(samples):.1f} {p99:.1f} {samples[0]:.1f} {samples[-1]:.1f}")
PY
)"
read -r lat_med lat_p99 lat_min lat_max <<<"$latency"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
load_s=$(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.2f", b - a }')
cat <<EOF

bantin serve benchmark: $articles articles, site RSS feed of 50 items ($size_id bytes, gzip $size_gz), $(nproc) cores, loopback
startup to listening (load + render):   ${load_s} s

write → served latency ($writes writes, debounce ${debounce_ms} ms):
  median ${lat_med} ms   p99 ${lat_p99} ms   min ${lat_min} ms   max ${lat_max} ms
  p99 after the debounce: $(awk -v p="$lat_p99" -v d="$debounce_ms" 'BEGIN { printf "%.1f", p - d }') ms (target < 100 ms)

requests/s (wrk -t2 -c64 -d${duration}s)   bantin      nginx      bantin/nginx
  gzip 200                            $(printf '%-11s %-10s %s' "$b200" "$n200" "$(ratio "$b200" "$n200")")
  304 Not Modified                    $(printf '%-11s %-10s %s' "$b304" "$n304" "$(ratio "$b304" "$n304")")
  (status of the 304 runs: bantin $code_b, nginx $code_n)
EOF
