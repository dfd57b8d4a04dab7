#!/usr/bin/env python3
"""A second relying party, in Python with the standard library only: it enrolls a customer's
device, logs the customer in with a push and number matching, reads the events by cursor and
checks the signed webhook deliveries, through the verifier's public HTTP API alone.

The customer's device is the `inkan` CLI (the person scanning the QR code and approving).

Environment: INKAN_RP (the verifier's origin), INKAN_RP_KEY (the API key), INKAN_BIN and
INKAN_PROFILE (the CLI and its profile), WEBHOOK_PORT and WEBHOOK_SECRET (where this script
takes the verifier's webhook, and the shared secret). Prints one JSON line and exits 0 when
every step worked.
"""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

RP = os.environ["INKAN_RP"]
KEY = os.environ["INKAN_RP_KEY"]
ACCOUNT = "50050001"
SECRET = os.environ["WEBHOOK_SECRET"].encode()

received = {}  # event id -> event, each kept once
seen_deliveries = set()
lock = threading.Lock()


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(RP + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + KEY)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=70) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def inkan(*args):
    out = subprocess.run(
        [os.environ["INKAN_BIN"], "--profile", os.environ["INKAN_PROFILE"], "--json", *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if out.returncode != 0:
        sys.exit(f"inkan {args}: {out.stdout} {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        delivery = self.headers.get("inkan-delivery", "")
        stamp = self.headers.get("inkan-timestamp", "")
        given = self.headers.get("inkan-signature", "")
        mac = hmac.new(SECRET, f"{stamp}.{delivery}.".encode() + body, hashlib.sha256).hexdigest()
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 300
        with lock:
            ok = hmac.compare_digest("v1=" + mac, given) and fresh and delivery not in seen_deliveries
            if ok:
                seen_deliveries.add(delivery)
                for event in json.loads(body)["events"]:
                    received.setdefault(event["id"], event)
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["WEBHOOK_PORT"])), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    # 1. An enrollment QR code for the customer; the device scans it; the RP sees it used.
    status, ticket = api("POST", "/v1/rp/enrollment-tickets", {"account_id": ACCOUNT})
    assert status == 200, ticket
    inkan("enroll", ticket["uri"], "--name", "Python RP test device")
    status, state = api("GET", f"/v1/rp/enrollment-tickets/{ticket['ticket_id']}")
    assert (status, state["state"]) == (200, "used"), state

    # 2. The password was right (the RP's business); a push with a number on the login page.
    status, created = api("POST", "/v1/rp/challenges", {
        "account_id": ACCOUNT, "number_match": True,
        "details": {"kind": "login", "time": "2026-12-03T10:00:00+09:00", "ip": "203.0.113.9",
                    "place": "東京都 / Tokyo", "browser": "Firefox / Linux"}})
    assert status == 200, created
    challenge = created["challenge_id"]
    # The customer types the number the page shows into the device and approves.
    inkan("approve", challenge, "--number", created["number_to_show"])
    status, settled = api("GET", f"/v1/rp/challenges/{challenge}/wait?timeout=30")
    assert (status, settled["state"]) == (200, "approved"), settled

    # 3. A wrong number on a second login is refused and reported as a failed factor.
    status, second = api("POST", "/v1/rp/challenges", {
        "account_id": ACCOUNT, "number_match": True,
        "details": {"kind": "login", "time": "2026-12-03T10:01:00+09:00", "ip": "203.0.113.9",
                    "place": "東京都 / Tokyo", "browser": "Firefox / Linux"}})
    assert status == 200, second
    wrong = "".join("0" if c == "9" else "9" for c in second["number_to_show"])
    subprocess.run([os.environ["INKAN_BIN"], "--profile", os.environ["INKAN_PROFILE"], "--json",
                    "approve", second["challenge_id"], "--number", wrong],
                   capture_output=True, stdin=subprocess.DEVNULL, timeout=60)

    # 4. A passkey login elsewhere: reported, so the push cap counts from it.
    status, recorded = api("POST", f"/v1/rp/accounts/{ACCOUNT}/logins")
    assert status == 200 and recorded["account_id"] == ACCOUNT, recorded

    # 5. The events, by cursor (two at a time) and by webhook: the same, each once.
    pulled, cursor = [], 0
    while True:
        status, page = api("GET", f"/v1/rp/events?after={cursor}&limit=2&account={ACCOUNT}")
        assert status == 200, page
        if not page["events"]:
            break
        pulled += page["events"]
        cursor = page["next_cursor"]
    kinds = [e["type"] for e in pulled]
    assert kinds[0] == "device_enrolled", kinds
    assert {"type": "challenge_settled", "data": {"challenge_id": challenge, "state": "approved"}} in [
        {"type": e["type"], "data": e["data"]} for e in pulled], pulled
    failed = [e for e in pulled if e["type"] == "factor_failed"]
    assert len(failed) == 1 and failed[0]["data"]["factor"] == "number_mismatch", pulled
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if all(e["id"] in received for e in pulled):
                break
        time.sleep(0.05)
    with lock:
        missing = [e for e in pulled if e["id"] not in received]
    assert not missing, f"not delivered by webhook: {missing}"
    server.shutdown()
    print(json.dumps({"ok": True, "events": kinds, "deliveries": len(seen_deliveries)}))


if __name__ == "__main__":
    main()
