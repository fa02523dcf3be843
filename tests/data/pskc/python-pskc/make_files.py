#!/usr/bin/env python3
"""Writes PSKC files with python3-pskc (Debian), a PSKC library other than
otpgate's: encrypted counters, times and intervals, as other systems export
them. Regenerate with: python3 make_files.py (the outputs are committed).
Secret of every key: the RFC 4226 test secret "12345678901234567890"."""
import pskc

SECRET = b"12345678901234567890"
PSK = bytes.fromhex("12345678901234567890123456789012")

def write(name, keys, encrypt=None):
    f = pskc.PSKC()
    for serial, kwargs in keys:
        k = f.add_key(serial=serial, secret=SECRET, **kwargs)
    if encrypt == "psk":
        f.encryption.setup_preshared_key(key=PSK, fields=["secret", "counter", "time_offset", "time_interval", "time_drift"])
        f.mac.setup(algorithm="hmac-sha256")
    elif encrypt == "password":
        f.encryption.setup_pbkdf2("qwerty", iterations=1000, fields=["secret", "counter", "time_offset", "time_interval", "time_drift"])
    f.write(name)

hotp = "urn:ietf:params:xml:ns:keyprov:pskc:hotp"
totp = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
# HOTP with a large encrypted counter (as a widely used OTP server exports),
# TOTP with encrypted T0 and period.
keys = [("PYHOTP1", dict(algorithm=hotp, response_length=6, counter=10**16 + 7)),
        ("PYTOTP1", dict(algorithm=totp, response_length=8, time_offset=0, time_interval=60)),
        ("PYTOTP2", dict(algorithm=totp, response_length=6, time_offset=1000, time_interval=30))]
write("encrypted_psk.pskcxml", keys, "psk")
write("encrypted_password.pskcxml", keys, "password")
# Secret encrypted, counter left as a PlainValue: must be refused (MAC'd file).
f = pskc.PSKC()
f.add_key(serial="PYMIXED", secret=SECRET, algorithm=hotp, response_length=6, counter=5)
f.encryption.setup_preshared_key(key=PSK, fields=["secret"])
f.mac.setup(algorithm="hmac-sha1")
f.write("plain_counter_in_mac_file.pskcxml")
