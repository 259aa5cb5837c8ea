#!/usr/bin/env python3
"""Print the newest link in the local mail folder (email.transport = "file").

Usage: python3 scripts/last_link.py [data/mail]   → e.g. http://127.0.0.1:8080/sign-in?token=…
The .eml files are MIME-encoded (long lines are wrapped), so they are decoded, not grepped.
"""
import email, email.policy, glob, os, re, sys

folder = sys.argv[1] if len(sys.argv) > 1 else "data/mail"
files = sorted(glob.glob(os.path.join(folder, "*.eml")), key=os.path.getmtime)
if not files:
    sys.exit(f"no .eml files in {folder}")
with open(files[-1], "rb") as handle:
    message = email.message_from_binary_file(handle, policy=email.policy.default)
text = message.get_body(preferencelist=("plain",)).get_content()
links = re.findall(r"https?://\S+token=[A-Za-z0-9_-]+", text)
if not links:
    sys.exit(f"no link in {files[-1]}")
print(links[-1])
