"""A digest of 200 articles, as a subscriber with a long backlog gets it.

Writes 200 Markdown articles (long Vietnamese summaries, an image each) into
DIR/articles, a config DIR/bantin.toml on them, adds a subscriber, asks
`bantin digest preview` for their next digest and writes its HTML part to
DIR/digest.html. Checks, printing one line each: the HTML part is under
Gmail's clipping limit (102 KB: past it Gmail shows "[Message clipped]"),
and every one of the 200 articles is in it, in full or as a title link.

    big_digest.py BANTIN DIR
"""
import datetime
import email
import email.policy
import os
import subprocess
import sys

GMAIL_CLIPS_AT = 102 * 1024
WORDS = ("nông thôn mới", "đường giao thông", "hợp tác xã", "du lịch cộng đồng", "mùa vàng",
         "thủy điện", "chè Suối Giàng", "quế Văn Yên", "bản Tà Xùa", "trường học vùng cao")


def main(bantin, work):
    store = os.path.join(work, "articles")
    os.makedirs(store, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    titles = []
    for i in range(200):
        title = f"Tin số {i + 1}: {WORDS[i % len(WORDS)]} ở xã {i % 37 + 1} đổi thay"
        summary = " ".join(f"Bài {i + 1} kể về {WORDS[(i + k) % len(WORDS)]}, về người dân và chính quyền địa phương." for k in range(4))
        date = (now - datetime.timedelta(minutes=10 + i)).isoformat()
        titles.append(title)
        with open(os.path.join(store, f"tin-{i + 1:03}.md"), "w", encoding="utf-8") as f:
            f.write(f'+++\ntitle = "{title}"\ndate = {date}\nsummary = "{summary}"\ncategories = ["Thời sự"]\n'
                    f'image = "https://yenbai.example.vn/anh/tin-{i + 1}.jpg"\n+++\n\n{summary}\n')
    cfg = os.path.join(work, "bantin.toml")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(f'''[site]
title = "Cổng thông tin điện tử tỉnh Yên Bái"
base_url = "https://yenbai.example.vn"
[store]
path = "{store}"
[http]
public_url = "https://bantin.yenbai.example.vn/"
[state]
url = "sqlite://{work}/state/bantin.db"
[mail]
smtp_url = "smtp://127.0.0.1:9"
from = "Bản tin Yên Bái <bantin@yenbai.example.vn>"
[digest]
max_items = 1000
first_backlog = "1d"
''')
    env = dict(os.environ, BANTIN_LOG="warn")
    subprocess.run([bantin, "--config", cfg, "subscribers", "add", "ban.doc@example.vn", "--confirmed"], check=True, env=env)
    raw = subprocess.run([bantin, "--config", cfg, "digest", "preview", "ban.doc@example.vn"], check=True, env=env, capture_output=True).stdout
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    html = msg.get_body(preferencelist=("html",)).get_content()
    size = len(html.encode("utf-8"))
    with open(os.path.join(work, "digest.html"), "w", encoding="utf-8") as f:
        f.write(html)
    ok = True

    def check(cond, what):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + what)
        ok = ok and cond

    check(size < GMAIL_CLIPS_AT, f"a digest of 200 articles: HTML part {size:,} B, under Gmail's clipping at {GMAIL_CLIPS_AT:,} B")
    missing = [t for t in titles if t not in html]
    check(not missing, f"every one of the 200 titles is in it, in full or as a link ({len(missing)} missing: {missing[:3]})")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1], sys.argv[2]) else 1)
