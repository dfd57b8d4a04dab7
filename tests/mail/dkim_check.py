"""Checks the DKIM signature (RFC 6376) of every mail in a Maildir with dkimpy, a verifier
independent of the signer (lettre), given the public key's DNS TXT record in place of DNS.

    python3 dkim_check.py MAILDIR RECORD_FILE [--tamper]

RECORD_FILE holds one TXT record, or several lines "NAME<tab>RECORD" (NAME as
"selector._domainkey.domain"), one per signing key.

Prints JSON, oldest first: [{"subject": ..., "from": ..., "d": ..., "dkim": true|false}].
With --tamper, each mail is also checked after one change a forger would make (a line added to
the body, the Subject or the From address replaced) and "tampered" maps each
change to its verdict, which must be false.
"""
import email
import email.policy
import json
import mailbox
import re
import sys

import dkim


def resolver(text: bytes):
    """dkimpy's DNS lookup, answered from the record file."""
    lines = [l for l in text.splitlines() if l.strip()]
    named = dict(l.split(b"\t", 1) for l in lines if b"\t" in l)
    if not named:
        return lambda name, timeout=5: text.strip()
    return lambda name, timeout=5: named.get(name.rstrip(b".") if isinstance(name, bytes) else name.rstrip(".").encode())


def verify(raw: bytes, record) -> bool:
    try:
        return bool(dkim.verify(raw, dnsfunc=record))
    except Exception:  # dkimpy raises on malformed signatures: that is a failure too
        return False


def split(raw: bytes):
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            return head, sep, body
    return raw, b"", b""


def tampers(raw: bytes):
    head, sep, body = split(raw)
    nl = b"\r\n" if b"\r\n" in head else b"\n"
    # The body: one more line at the start (the text is base64 or quoted-printable, so
    # changing a character could leave it undecodable; a line is a clean change).
    yield "body", head + sep + b"X" + nl + body
    yield "subject", re.sub(rb"(?mi)^Subject:.*(\r?\n[ \t].*)*", b"Subject: =?utf-8?b?5Ye66YeR?=", head, count=1) + sep + body
    yield "from", re.sub(rb"(?mi)^From:.*(\r?\n[ \t].*)*", b"From: attacker@evil.example", head, count=1) + sep + body


def main() -> None:
    box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
    record = resolver(open(sys.argv[2], "rb").read())
    tamper = "--tamper" in sys.argv[3:]
    out = []
    for key in box.keys():
        raw = box.get_bytes(key)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        sig = msg.get("DKIM-Signature", "")
        d = re.search(r"\bd=([^;\s]+)", str(sig))
        entry = {
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "d": d.group(1) if d else None,
            "dkim": verify(raw, record),
            "order": (int(key.split(".")[0]), int(key.split(".")[1].split("P")[0].lstrip("M") or 0), key),
        }
        if tamper:
            entry["tampered"] = {name: verify(changed, record) for name, changed in tampers(raw)}
        out.append(entry)
    out.sort(key=lambda m: m.pop("order"))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
