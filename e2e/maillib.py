"""Reading what the SMTP sink received, with Python's own `email` parser.

As a command, prints the newest link to ROUTE (confirm, unsubscribe,
preferences) in the plain-text part of a mail to ADDRESS, waiting for it;
with SUBJECT, only in a mail whose subject contains it:
    maillib.py link DIR ADDRESS ROUTE [TIMEOUT_S [SUBJECT]]
"""

import email
import email.policy
import glob
import json
import os
import re
import sys
import time


def received(folder):
    """Every stored message, oldest first: (name, envelope, raw bytes)."""
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.eml"))):
        with open(path, "rb") as f:
            raw = f.read()
        with open(path[:-4] + ".json") as f:
            envelope = json.load(f)
        out.append((os.path.basename(path), envelope, raw))
    return out


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def to(folder, address):
    return [(n, e, raw) for n, e, raw in received(folder) if address in e["rcpt_tos"]]


def wait_for(folder, address, predicate, timeout=30.0):
    """The newest message to `address` that `predicate(msg)` accepts."""
    deadline = time.monotonic() + timeout
    while True:
        for name, _env, raw in reversed(to(folder, address)):
            msg = parse(raw)
            if predicate(msg):
                return name, raw, msg
        if time.monotonic() > deadline:
            names = [n for n, _, _ in received(folder)]
            raise TimeoutError(f"no matching mail to {address} within {timeout} s; the sink has {names}")
        time.sleep(0.2)


def part(msg, subtype):
    p = msg.get_body(preferencelist=(subtype,))
    if p is None or p.get_content_subtype() != subtype:
        return None
    return p.get_content()


def text_links(text):
    return re.findall(r"https?://\S+", text)


def link(msg, route):
    for url in text_links(part(msg, "plain") or ""):
        if f"/{route}/" in url:
            return url
    return None


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "link":
        sys.exit(__doc__)
    folder, address, route = sys.argv[2:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
    subject = sys.argv[6] if len(sys.argv) > 6 else ""
    _, _, msg = wait_for(folder, address, lambda m: subject in str(m["Subject"]) and link(m, route) is not None, timeout)
    print(link(msg, route))
