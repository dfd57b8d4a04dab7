"""Prints the mail an aiosmtpd Mailbox handler stored in a Maildir as JSON (oldest first):
[{"to": ..., "subject": ..., "body": ...}], headers decoded, bodies decoded from their
transfer encoding. Used by site.test.mjs to read what the real SMTP server received."""
import email
import email.policy
import json
import mailbox
import sys

box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
mails = []
for key in box.keys():
    raw = box.get_bytes(key)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",)) or msg
    mails.append({
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "date": str(msg["Date"]),
        "body": part.get_content(),
        # Maildir names start "<seconds>.M<microseconds>P<pid>Q<count>": delivery order.
        "order": (int(key.split(".")[0]), int(key.split(".")[1].split("P")[0].lstrip("M") or 0), key),
    })
mails.sort(key=lambda m: m.pop("order"))
print(json.dumps(mails, ensure_ascii=False))
