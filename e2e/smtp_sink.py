"""A local SMTP sink for the end-to-end run: aiosmtpd (a real SMTP server)
on loopback that accepts every message and writes it as DIR/NNNN.eml, with
the envelope in DIR/NNNN.json. Like any MTA it prepends a Received header
(the message bytes are otherwise kept as sent, so DKIM still verifies).

Usage: smtp_sink.py PORT DIR   (runs until SIGTERM)
"""

import email.utils
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        received = (
            f"Received: from {session.host_name} ({session.peer[0]})\r\n"
            f"\tby e2e-sink.localdomain with ESMTP id {n:04d}\r\n"
            f"\tfor <{envelope.rcpt_tos[0]}>; {email.utils.formatdate(localtime=False)}\r\n"
        ).encode()
        base = os.path.join(self.folder, f"{n:04d}")
        # The .json lands first and the .eml by rename: a reader that sees
        # the .eml sees the whole message and its envelope.
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(received + envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK stored"


def main(port, folder):
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Sink(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtp sink on 127.0.0.1:{port} writing to {folder}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
