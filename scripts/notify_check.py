#!/usr/bin/env python3
"""End-to-end check of bourse's notifications and identity, with clients we did not write.

    notify_check.py BOURSE_BINARY STORE_ENV_JSON DATA_KEY_FILE

BOURSE_BINARY is the `bourse` executable; STORE_ENV_JSON a JSON object of environment
variables choosing the journal (and BOURSE__SERVER__OPERATOR_TOKEN); DATA_KEY_FILE where the
server keeps its data key. The script runs `bourse serve` itself (and kills and restarts it),
with the notifier pointed at its own receivers: a real SMTP server (aiosmtpd), an SMS
provider stand-in speaking Twilio's API, and webhook receivers that check every signature
with Python's hmac. TOTP codes come from pyotp. Each check prints one line when it passes;
any failure is reported by name and the exit status is 1. Every wait is bounded, and a
watchdog ends the whole run after WATCHDOG_SECS. Run through scripts/py-venv.sh with
BOURSE_PY_PACKAGE="aiosmtpd==1.4.6 pyotp==2.9.0".
"""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import http.server
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from email import policy

import pyotp
from aiosmtpd.controller import Controller

PASSWORD = "correct horse battery staple 42"
NEW_PASSWORD = "purple elephant umbrella sunrise 77"
WATCHDOG_SECS = 170
MAX_ATTEMPTS = 4
RUN = os.urandom(3).hex()  # makes names unique in a store that outlives one run
SMS_SID, SMS_TOKEN, SMS_FROM = "ACtest", "secret-token", "+15550001111"


class CheckFailed(Exception):
    pass


def ensure(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def wait_until(what, pred, timeout, interval=0.05):
    """pred()'s first truthy value, polled for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise CheckFailed(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- receivers


class Mailbox:
    """An aiosmtpd handler keeping every mail received, with its recipients."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        with self.lock:
            self.mails.append({"to": [r.lower() for r in envelope.rcpt_tos],
                               "from": str(msg.get("From", "")),
                               "subject": str(msg.get("Subject", "")), "text": text})
        return "250 OK"

    def to(self, addr):
        with self.lock:
            return [m for m in self.mails if addr.lower() in m["to"]]

    def wait_code(self, addr, after, timeout=15):
        """The code in the first mail with one to `addr`, skipping its first `after`."""
        def find():
            for m in self.to(addr)[after:]:
                c = code_in(m["subject"] + "\n" + m["text"])
                if c:
                    return c, m
            return None
        return wait_until(f"a mail with a code to {addr}", find, timeout)


def code_in(text):
    """The six-digit code in a message: next to the word "code", else the only one."""
    m = re.search(r"code\D{0,40}?(?<!\d)(\d{6})(?!\d)", text, re.I | re.S)
    if m:
        return m.group(1)
    found = set(re.findall(r"(?<!\d)\d{6}(?!\d)", text))
    return found.pop() if len(found) == 1 else None


def serve_http(handler_cls, port=0):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return srv


class SmsProvider:
    """Twilio's Messages API as far as bourse uses it: checks path, basic auth, form."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages, self.problems = [], []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
                want_auth = "Basic " + base64.b64encode(
                    f"{SMS_SID}:{SMS_TOKEN}".encode()).decode()
                problem = None
                if self.path != f"/2010-04-01/Accounts/{SMS_SID}/Messages.json":
                    problem, status = f"SMS to path {self.path}", 404
                elif self.headers.get("Authorization") != want_auth:
                    problem, status = "SMS without the account's basic auth", 401
                elif form.get("From") != SMS_FROM or not form.get("To") or not form.get("Body"):
                    problem, status = f"SMS form fields wrong: {form}", 400
                else:
                    status = 201
                with provider.lock:
                    (provider.problems if problem else provider.messages).append(problem or form)
                out = json.dumps({"sid": "SM" + os.urandom(16).hex(), "status": "queued",
                                  "to": form.get("To"), "from": form.get("From"),
                                  "body": form.get("Body")}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = serve_http(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_code(self, phone, timeout=15):
        def find():
            with self.lock:
                ensure(not self.problems, f"the SMS provider was called wrongly: {self.problems}")
                for m in self.messages:
                    if m["To"] == phone and code_in(m["Body"]):
                        return code_in(m["Body"])
            return None
        return wait_until(f"an SMS with a code to {phone}", find, timeout)


ORDER_LOG_LOCK = threading.Lock()


class Receiver:
    """A webhook receiver: verifies each request's signature and body, answers by mode.

    mode "ok" answers 200, "down" 503; the first `fail_first` requests get 500; `delay`
    seconds of sleep before answering. `log` (shared between receivers) records arrivals
    and answers in order."""

    def __init__(self, name, port=0, mode="ok", fail_first=0, delay=0.0, log=None):
        self.name, self.mode, self.fail_first, self.delay = name, mode, fail_first, delay
        self.secret, self.account = None, None
        self.log = log if log is not None else []
        self.lock = threading.Lock()
        self.records, self.problems = [], []
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/{name}"
        self.server = None

    def start(self):
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key, kind, problem = rcv.inspect(self.headers, raw)
                with ORDER_LOG_LOCK:
                    rcv.log.append(("arrive", rcv.name, key))
                    n = sum(1 for e in rcv.log if e[0] == "arrive" and e[1] == rcv.name)
                if rcv.delay:
                    time.sleep(rcv.delay)
                status = 500 if n <= rcv.fail_first else (503 if rcv.mode == "down" else 200)
                with ORDER_LOG_LOCK:
                    rcv.log.append(("answer", rcv.name, key))
                with rcv.lock:
                    rcv.records.append({"key": key, "kind": kind, "status": status})
                    if problem:
                        rcv.problems.append(problem)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = serve_http(Handler, self.port)
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def inspect(self, headers, raw):
        """(key, kind, problem or None) of one delivery."""
        try:
            body = json.loads(raw)
        except ValueError:
            return None, None, f"body is not JSON: {raw[:200]!r}"
        key, kind = body.get("id"), body.get("type")
        ts, sig = headers.get("Bourse-Timestamp"), headers.get("Bourse-Signature") or ""
        if not ts or not ts.isdigit():
            return key, kind, f"Bourse-Timestamp {ts!r} is not unix seconds"
        if abs(time.time() - int(ts)) > 300:
            return key, kind, f"Bourse-Timestamp {ts} is more than 5 minutes off"
        want = hmac.new(self.secret.encode(), ts.encode() + b"." + raw,
                        hashlib.sha256).hexdigest()
        given = [p[3:] for p in re.split(r"[\s,]+", sig) if p.startswith("v1=")]
        if not any(hmac.compare_digest(want, g) for g in given):
            return key, kind, f"Bourse-Signature {sig!r} does not verify (want v1={want})"
        if headers.get("Idempotency-Key") != key or not key:
            return key, kind, f"Idempotency-Key {headers.get('Idempotency-Key')!r} != id {key!r}"
        missing = [f for f in ("type", "created_at", "account_id", "data") if f not in body]
        if missing:
            return key, kind, f"body lacks {missing}: {body}"
        if str(body["account_id"]) != str(self.account):
            return key, kind, f"account_id {body['account_id']} is not {self.account}"
        return key, kind, None

    def accepted(self):
        """Keys answered 2xx, with how many times."""
        with self.lock:
            return Counter(r["key"] for r in self.records if 200 <= r["status"] < 300)

    def tried(self):
        with self.lock:
            return Counter(r["key"] for r in self.records)

    def kinds(self):
        with self.lock:
            return {r["kind"] for r in self.records if 200 <= r["status"] < 300}


def exactly_once(receivers, n, timeout=20, settle=1.5):
    """Waits for `n` keys accepted across `receivers`, then for late duplicates; checks."""
    def accepted():
        total = Counter()
        for r in receivers:
            total.update(r.accepted())
        return total
    wait_until(f"{n} notifications accepted by {receivers[0].name}",
               lambda: len(accepted()) >= n, timeout)
    time.sleep(settle)
    got = accepted()
    problems = [p for r in receivers for p in r.problems]
    ensure(not problems, f"bad deliveries: {problems[:3]}")
    ensure(len(got) == n, f"{len(got)} distinct notifications accepted, expected {n}")
    dups = {k: c for k, c in got.items() if c != 1}
    ensure(not dups, f"notifications accepted more than once: {dups}")
    return got


# ---------------------------------------------------------------- the server and its API


class Bourse:
    """`bourse serve` as a child process; `base` from its first stdout line."""

    def __init__(self, binary, env):
        self.binary, self.env, self.proc, self.base = binary, env, None, None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env,
                                     stdout=subprocess.PIPE, text=True)
        lines = queue.Queue()

        def pump(out):
            for line in out:
                lines.put(line)
        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                line = lines.get(timeout=0.1)
                break
            except queue.Empty:
                rc = self.proc.poll()
                ensure(rc is None, f"bourse serve exited with {rc} before listening (its "
                       "stderr is above)")
                ensure(time.monotonic() < deadline, "bourse serve printed no listening line "
                       "within 60 s")
        m = re.match(r"bourse listening on (http://\S+) \(journal .*?seq (\d+), state hash", line)
        ensure(m, f"unexpected first line from bourse serve: {line!r}")
        self.base = m.group(1)
        API.base = self.base
        return int(m.group(2))

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self):
        """SIGTERM; the server must exit cleanly within 30 s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise CheckFailed("bourse serve did not stop within 30 s of SIGTERM") from None
        ensure(rc == 0, f"bourse serve exited with {rc} on SIGTERM")


class Api:
    base = None
    operator = None

    def call(self, method, path, body=None, token=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                status, raw, headers = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, headers = e.code, e.read(), e.headers
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return status, data, headers

    def ok(self, status, method, path, body=None, token=None):
        s, d, _ = self.call(method, path, body, token)
        ensure(s == status, f"{method} {path} answered {s} {d}, expected {status}")
        return d

    def refused(self, status, code, method, path, body=None, token=None):
        s, d, h = self.call(method, path, body, token)
        got = d.get("code") if isinstance(d, dict) else None
        ensure((s, got) == (status, code),
               f"{method} {path} answered {s} {d}, expected {status} {code}")
        return h


API = Api()


def sign_up(**who):
    v = API.ok(201, "POST", "/v1/users", {**who, "password": PASSWORD})
    sent = "email" if "email" in who else "phone" if "phone" in who else None
    ensure(v.get("verification_sent_to") == sent, f"sign-up answered {v}")
    return v["account_id"]


def log_in(password=PASSWORD, **who):
    return API.ok(201, "POST", "/v1/sessions", {**who, "password": password})["token"]


def deposit(account, amount="1000.00"):
    API.ok(200, "POST", f"/v1/admin/accounts/{account}/deposits", {"amount": amount},
           API.operator)


def order(side="buy", qty="1", price="189.00"):
    """A day limit order for AAPL (reference 190.00; a buy at 189 rests, trading nothing)."""
    return {"symbol": "AAPL", "side": side, "type": "limit", "time_in_force": "day",
            "qty": qty, "limit_price": price}


def me(token):
    return API.ok(200, "GET", "/v1/me", token=token)


def webhook_user(rcv, events=("deposit",)):
    """A user (by username) with a webhook to `rcv`: (account, token, webhook id)."""
    account = sign_up(username=f"{rcv.name}-{RUN}")
    token = log_in(username=f"{rcv.name}-{RUN}")
    hook = API.ok(201, "POST", "/v1/webhooks", {"url": rcv.url, "events": list(events)}, token)
    ensure(str(hook.get("secret", "")).startswith("whsec_"), f"webhook created: {hook}")
    rcv.secret, rcv.account = hook["secret"], account
    return account, token, hook["id"]


def deliveries(token, hook, status):
    return API.ok(200, "GET", f"/v1/webhooks/{hook}/deliveries?status={status}&limit=500",
                  token=token)["deliveries"]


# ---------------------------------------------------------------- the checks


def check_email_verification(ctx):
    addr = f"ann-{RUN}@example.com"
    account = sign_up(email=addr)
    API.refused(409, "CONTACT_TAKEN", "POST", "/v1/users", {"email": addr, "password": PASSWORD})
    code, mail = ctx.mail.wait_code(addr, 0)
    ensure("no-reply@bourse.test" in mail["from"], f"mail from {mail['from']!r}")
    token = log_in(email=addr)
    v = me(token)
    ensure(v["verification_required"] and not v["email"]["verified"], f"/v1/me: {v}")
    deposit(account)  # deposits are allowed before verification
    API.refused(422, "CONTACT_NOT_VERIFIED", "POST", "/v1/orders", order(), token)
    # A second code within 30 s is not sent; unknown addresses get the same answer.
    API.ok(202, "POST", "/v1/users/verify/resend", {"email": addr})
    API.ok(202, "POST", "/v1/users/verify/resend", {"email": f"nobody-{RUN}@example.com"})
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    API.refused(422, "CODE_INVALID", "POST", "/v1/users/verify", {"email": addr, "code": wrong})
    v = API.ok(200, "POST", "/v1/users/verify", {"email": addr, "code": code})
    ensure(v == {"verified": True, "contact": "email"}, f"verify answered {v}")
    API.refused(422, "CODE_INVALID", "POST", "/v1/users/verify", {"email": addr, "code": code})
    v = me(token)
    ensure(v["email"] == {"address": addr, "verified": True}
           and not v["verification_required"], f"/v1/me after verifying: {v}")
    s, d, _ = API.call("POST", "/v1/orders", order(), token)
    ensure(s in (200, 201), f"order after verifying answered {s} {d}")
    codes = [code_in(m["subject"] + m["text"]) for m in ctx.mail.to(addr)]
    ensure(len([c for c in codes if c]) == 1, f"resend within 30 s sent another code: {codes}")
    return "SMTP mail's code verified (wrong code CODE_INVALID, reused CODE_INVALID); order " \
           "CONTACT_NOT_VERIFIED before, accepted after; no second code within 30 s"


def check_sms_verification(ctx):
    phone = "+1415555" + f"{int.from_bytes(os.urandom(2), 'big') % 10000:04d}"
    account = sign_up(phone=phone)
    code = ctx.sms.wait_code(phone)
    token = log_in(phone=phone)
    deposit(account)
    API.refused(422, "CONTACT_NOT_VERIFIED", "POST", "/v1/orders", order(), token)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for _ in range(3):
        API.refused(422, "CODE_INVALID", "POST", "/v1/users/verify", {"phone": phone, "code": wrong})
    h = API.refused(429, "TOO_MANY_ATTEMPTS", "POST", "/v1/users/verify",
                    {"phone": phone, "code": code})
    retry = h.get("Retry-After")
    ensure(retry and retry.isdigit() and 0 < int(retry) <= 5, f"Retry-After {retry!r}")
    time.sleep(int(retry) + 0.2)
    v = API.ok(200, "POST", "/v1/users/verify", {"phone": phone, "code": code})
    ensure(v == {"verified": True, "contact": "phone"}, f"verify answered {v}")
    s, d, _ = API.call("POST", "/v1/orders", order(), token)
    ensure(s in (200, 201), f"order after verifying answered {s} {d}")
    return "Twilio-style SMS (path, basic auth, To/From/Body) carried the code; 3 wrong codes " \
           f"then 429 TOO_MANY_ATTEMPTS (Retry-After {retry}); the code verified the phone"


def prepare_reset_and_change(ctx):
    """Two verified email users for check 2, made early: codes are at most one per 30 s."""
    for who in ("reset", "change"):
        addr = f"{who}-{RUN}@example.com"
        sign_up(email=addr)
        code, _ = ctx.mail.wait_code(addr, 0)
        API.ok(200, "POST", "/v1/users/verify", {"email": addr, "code": code})
        ctx.prepared[who] = (addr, log_in(email=addr), time.monotonic())


def wait_code_interval(since):
    left = since + 31 - time.monotonic()
    if left > 0:
        say(f"     (waiting {left:.0f} s: one code per 30 s per person)")
        time.sleep(left)


def check_password_reset(ctx):
    ensure("reset" in ctx.prepared, "its user was not prepared (see prepare above)")
    addr, token, since = ctx.prepared["reset"]
    me(token)
    wait_code_interval(since)
    before = len(ctx.mail.to(addr))
    API.ok(202, "POST", "/v1/password-resets", {"email": addr})
    API.ok(202, "POST", "/v1/password-resets", {"email": f"nobody-{RUN}@example.com"})
    code, _ = ctx.mail.wait_code(addr, before)
    bad = f"{(int(code) + 1) % 1_000_000:06d}"
    API.refused(422, "CODE_INVALID", "POST", "/v1/password-resets/confirm",
                {"email": addr, "code": bad, "password": NEW_PASSWORD})
    API.ok(204, "POST", "/v1/password-resets/confirm",
           {"email": addr, "code": code, "password": NEW_PASSWORD})
    s, d, _ = API.call("GET", "/v1/me", token=token)
    ensure(s == 401, f"the old session still works after the reset: {s} {d}")
    API.refused(401, "INVALID_CREDENTIALS", "POST", "/v1/sessions",
                {"email": addr, "password": PASSWORD})
    me(log_in(email=addr, password=NEW_PASSWORD))
    return "emailed reset code set a new password; old session 401, old password refused, " \
           "new one logs in"


def check_email_change(ctx):
    ensure("change" in ctx.prepared, "its user was not prepared (see prepare above)")
    old, token, since = ctx.prepared["change"]
    new = f"change-new-{RUN}@example.com"
    wait_code_interval(since)
    API.ok(202, "POST", "/v1/me/contact", {"email": new}, token)
    code, _ = ctx.mail.wait_code(new, 0)
    v = me(token)
    ensure(v["email"]["address"] == old and (v.get("pending") or {}).get("address") == new,
           f"/v1/me while the change is pending: {v}")
    API.ok(200, "POST", "/v1/users/verify", {"email": new, "code": code})
    v = me(token)
    ensure(v["email"] == {"address": new, "verified": True} and not v.get("pending"),
           f"/v1/me after the change: {v}")
    log_in(email=new)
    API.refused(401, "INVALID_CREDENTIALS", "POST", "/v1/sessions",
                {"email": old, "password": PASSWORD})
    return "code went to the new address; /v1/me shows it verified; it logs in, the old does not"


def check_totp(ctx):
    name = f"totp-{RUN}"
    sign_up(username=name)
    token = log_in(username=name)
    e = API.ok(201, "POST", "/v1/me/totp", token=token)
    parsed = pyotp.parse_uri(e["otpauth_uri"])
    ensure(parsed.secret == e["secret"] and parsed.digits == 6 and parsed.interval == 30
           and parsed.digest().name == "sha1", f"otpauth URI {e['otpauth_uri']}")
    totp = pyotp.TOTP(e["secret"])
    codes = API.ok(200, "POST", "/v1/me/totp/confirm", {"code": totp.now()},
                   token)["recovery_codes"]
    ensure(len(codes) == 10 and all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", c) for c in codes),
           f"recovery codes {codes}")
    v = me(token)
    ensure(v["two_factor"] and v["recovery_codes_left"] == 10, f"/v1/me: {v}")
    who = {"username": name, "password": PASSWORD}
    path = "/v1/sessions"
    API.refused(401, "INVALID_CREDENTIALS", "POST", path, {**who, "password": NEW_PASSWORD})
    API.refused(401, "TWO_FACTOR_REQUIRED", "POST", path, who)
    valid = {totp.at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    API.refused(401, "SECOND_FACTOR_INVALID", "POST", path, {**who, "totp_code": wrong})
    code = totp.at(time.time() + 30)  # a step after the one confirmed (one step of drift)
    t2 = API.ok(201, "POST", path, {**who, "totp_code": code})["token"]
    API.refused(401, "SECOND_FACTOR_INVALID", "POST", path, {**who, "totp_code": code})
    API.ok(201, "POST", path, {**who, "recovery_code": codes[0]})
    API.refused(401, "SECOND_FACTOR_INVALID", "POST", path, {**who, "recovery_code": codes[0]})
    ensure(me(t2)["recovery_codes_left"] == 9, "a used recovery code still counted")
    API.ok(204, "DELETE", "/v1/me/totp", {"recovery_code": codes[1]}, t2)
    log_in(username=name)
    return "pyotp enrolled from the otpauth URI; no code TWO_FACTOR_REQUIRED, wrong and " \
           "replayed SECOND_FACTOR_INVALID, valid 201; recovery code once; turned off"


def check_new_device_login(ctx):
    addr = f"dev-{RUN}@example.com"
    sign_up(email=addr)
    code, _ = ctx.mail.wait_code(addr, 0)
    token = log_in(email=addr, device_id="laptop-1")
    prefs = API.ok(200, "GET", "/v1/notification-preferences", token=token)
    ch = prefs["channels"]
    ensure(len(ch) == 10 and "batch_partial_fills" in prefs, f"preferences {prefs}")
    for kind, want in ch.items():
        extra = {"order_filled": {"email"}, "deposit": {"email"}, "withdrawal": {"email"},
                 "price_alert": {"email"}, "log_in": {"email", "sms"},
                 "security_change": {"email", "sms"}}.get(kind, set())
        ensure(set(want) == {"in_app", "webhook"} | extra, f"default channels of {kind}: {want}")
    # Security notices in-app only, so the only mails after verifying are log-in notices.
    v = API.ok(200, "PUT", "/v1/notification-preferences",
               {"channels": {"security_change": ["in_app"]}}, token)
    ensure(v["channels"]["security_change"] == ["in_app"]
           and set(v["channels"]["log_in"]) == {"in_app", "webhook", "email", "sms"},
           f"PUT preferences answered {v}")
    API.ok(200, "POST", "/v1/users/verify", {"email": addr, "code": code})
    before = len(ctx.mail.to(addr))
    for device in ("laptop-2", "laptop-2", "phone-3"):
        log_in(email=addr, device_id=device)
    wait_until("log-in mails", lambda: len(ctx.mail.to(addr)) >= before + 2, 15)
    time.sleep(1.5)
    mails = ctx.mail.to(addr)[before:]
    ensure(len(mails) == 2, f"{len(mails)} mails after log-ins from 2 new devices and a known "
           f"one, expected 2: {[m['subject'] for m in mails]}")
    return f"2 new devices → 2 log_in mails ({mails[0]['subject']!r}); known device → none; " \
           "default preferences as documented"


def check_webhook_signatures(ctx):
    rcv = Receiver("sig").start()
    buyer, token, hook = webhook_user(rcv, events=["*"])
    listed = API.ok(200, "GET", "/v1/webhooks", token=token)["webhooks"]
    ensure([h["id"] for h in listed] == [hook] and "secret" not in listed[0],
           f"GET /v1/webhooks: {listed}")
    # A user's URL may not point into the exchange's own networks.
    for inside in ("https://169.254.169.254/latest/meta-data", "https://10.1.2.3/hook",
                   "https://[::ffff:192.168.0.1]/hook", "http://example.com/hook"):
        API.refused(422, "INVALID_WEBHOOK", "POST", "/v1/webhooks",
                    {"url": inside, "events": ["*"]}, token)
    seller = sign_up(username=f"seller-{RUN}")
    st = log_in(username=f"seller-{RUN}")
    deposit(buyer, "10000.00")
    API.ok(200, "POST", f"/v1/admin/accounts/{seller}/shares", {"symbol": "AAPL", "qty": 10},
           API.operator)
    API.ok(200, "POST", "/v1/orders", order("sell", "10", "190.00"), st)
    v = API.ok(200, "POST", "/v1/orders", order("buy", "10", "190.00"), token)
    ensure(v.get("status") == "filled", f"the buy did not fill: {v}")
    wait_until("deposit and order_filled notices", lambda: {"deposit", "order_filled"}
               <= rcv.kinds(), 15)
    time.sleep(0.5)
    ensure(not rcv.problems, f"bad deliveries: {rcv.problems[:3]}")
    n = sum(rcv.tried().values())
    rcv.stop()
    return f"{n} deliveries ({', '.join(sorted(rcv.kinds()))}) all signed v1=HMAC-SHA256 " \
           "that Python's hmac verifies, timestamps fresh, Idempotency-Key = id"


def check_webhook_retries(ctx):
    rcv = Receiver("retry", fail_first=3).start()
    account, token, hook = webhook_user(rcv)
    for i in range(3):
        deposit(account, f"{100 + i}.00")
    got = exactly_once([rcv], 3)
    tried = sum(rcv.tried().values())
    ensure(tried == 6, f"{tried} requests; expected 3 answered 500 and 3 accepted")
    wait_until("3 delivered in the delivery log",
               lambda: len(deliveries(token, hook, "delivered")) == 3, 10, 0.2)
    rcv.stop()
    return f"500 ×3 then 200: {len(got)} notifications accepted exactly once each, listed " \
           "as delivered"


def check_webhook_dead_and_replay(ctx):
    rcv = Receiver("dead", mode="down").start()
    account, token, hook = webhook_user(rcv)
    for i in range(3):
        deposit(account, f"{200 + i}.00")
    dead = wait_until("3 deliveries dead", lambda: (lambda d: d if len(d) == 3 else None)(
        deliveries(token, hook, "dead")), 20, 0.2)
    keys = {d["key"] for d in dead}
    ensure(all(d["kind"] == "deposit" and d["attempts"] == MAX_ATTEMPTS for d in dead),
           f"dead deliveries: {dead}")
    tried = rcv.tried()
    ensure(set(tried) == keys and all(c == MAX_ATTEMPTS for c in tried.values()),
           f"the receiver saw {dict(tried)}; expected {MAX_ATTEMPTS} tries of each dead key")
    ensure(not rcv.accepted(), "a 503 counted as accepted")
    rcv.mode = "ok"
    v = API.ok(202, "POST", f"/v1/webhooks/{hook}/replay", token=token)
    ensure(v.get("replayed") == 3, f"replay answered {v}")
    got = exactly_once([rcv], 3)
    ensure(set(got) == keys, f"replayed keys {set(got)} are not the dead ones {keys}")
    wait_until("no dead deliveries left", lambda: not deliveries(token, hook, "dead"), 10, 0.2)
    rcv.stop()
    return f"always 503 → 3 dead after {MAX_ATTEMPTS} tries each; receiver back, replay → " \
           "each accepted exactly once"


def check_slow_receiver(ctx):
    log = []
    slow = Receiver("slow", delay=3.0, log=log).start()
    fast = Receiver("fast", log=log).start()
    a, _, _ = webhook_user(slow)
    b, _, _ = webhook_user(fast)
    for i in range(5):
        deposit(a, f"{300 + i}.00")
        deposit(b, f"{400 + i}.00")
    wait_until("the fast receiver's 5 notifications", lambda: len(fast.accepted()) >= 5, 20)
    with ORDER_LOG_LOCK:
        events = list(log)
    last_b = max(i for i, e in enumerate(events) if e[:2] == ("arrive", "fast"))
    a_answers = [i for i, e in enumerate(events) if e[:2] == ("answer", "slow")]
    ensure(any(e[:2] == ("arrive", "slow") for e in events), "nothing reached the slow receiver")
    ensure(len(a_answers) < 2 or a_answers[1] > last_b,
           f"user B's notifications waited behind user A's slow receiver: {events}")
    ensure(not slow.problems and not fast.problems, f"bad deliveries: "
           f"{(slow.problems + fast.problems)[:3]}")
    fast.stop()
    # The slow one is left to finish on its own (daemon threads); its port closes with us.
    return f"all 5 of B's arrived before A's 2nd was answered (A answered {len(a_answers)})"


def check_restart_with_pending(ctx):
    """Phase 2: its own server (attempts never run out), killed and stopped with
    deliveries pending; each arrives exactly once after the restart."""
    ctx.server.terminate()
    env = dict(ctx.env, BOURSE__NOTIFY__MAX_ATTEMPTS="1000")
    ctx.server = Bourse(ctx.binary, env)
    ctx.server.start()
    log = []
    rcv = Receiver("restart", log=log)  # not started: its port is closed
    account, token, hook = webhook_user(rcv)
    for i in range(10):
        deposit(account, f"{500 + i}.00")
    time.sleep(0.5)  # the notifier has tried, and been refused
    pending = len(deliveries(token, hook, "pending"))
    ctx.server.kill()
    rcv.start()
    seq = ctx.server.start()
    exactly_once([rcv], 10)
    # The clean-stop variant: the receiver down again, 5 more, SIGTERM, back up, restart.
    rcv.stop()
    for i in range(5):
        deposit(account, f"{600 + i}.00")
    time.sleep(0.5)
    ctx.server.terminate()
    again = Receiver("restart", port=rcv.port, log=log)
    again.secret, again.account = rcv.secret, rcv.account
    again.start()
    ctx.server.start()
    exactly_once([rcv, again], 15)
    again.stop()
    return f"10 pending ({pending} listed) across SIGKILL (recovered seq {seq}) and 5 across " \
           "SIGTERM: each accepted exactly once after the restart"


# ---------------------------------------------------------------- main


class Context:
    pass


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, store_env, key_file = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    ctx = Context()
    ctx.binary, ctx.prepared = binary, {}
    API.operator = store_env.get("BOURSE__SERVER__OPERATOR_TOKEN")
    if not API.operator:
        sys.exit("STORE_ENV_JSON must set BOURSE__SERVER__OPERATOR_TOKEN")

    ctx.mail = Mailbox()
    smtp_port = free_port()
    smtp = Controller(ctx.mail, hostname="127.0.0.1", port=smtp_port, ready_timeout=10)
    smtp.start()
    ctx.sms = SmsProvider()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOURSE__")}
    env.update(store_env)
    env.update({
        "BOURSE__SERVER__LISTEN": "127.0.0.1:0",
        "BOURSE__SERVER__DATA_KEY_FILE": key_file,
        "BOURSE__SERVER__RATE_PER_IP": "1000",
        "BOURSE__LOG__LEVEL": "warn",
        "BOURSE__NOTIFY__SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "BOURSE__NOTIFY__EMAIL_FROM": "bourse <no-reply@bourse.test>",
        "BOURSE__NOTIFY__SMS_URL": ctx.sms.url,
        "BOURSE__NOTIFY__SMS_ACCOUNT_SID": SMS_SID,
        "BOURSE__NOTIFY__SMS_AUTH_TOKEN": SMS_TOKEN,
        "BOURSE__NOTIFY__SMS_FROM": SMS_FROM,
        "BOURSE__NOTIFY__ALLOW_LOOPBACK_HTTP": "true",
        "BOURSE__NOTIFY__RETRY_BASE_MS": "100",
        "BOURSE__NOTIFY__RETRY_MAX_MS": "400",
        "BOURSE__NOTIFY__MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "BOURSE__NOTIFY__POLL_MS": "100",
        "BOURSE__NOTIFY__HTTP_TIMEOUT_MS": "10000",
        "BOURSE__NOTIFY__ENDPOINT_CONCURRENCY": "1",
        # The circuit breaker would hold a dead receiver's retries (and replays) for
        # breaker_open_ms: not what these checks are about.
        "BOURSE__NOTIFY__BREAKER_FAILURES": "1000",
    })
    ctx.env = env
    ctx.server = Bourse(binary, env)

    def watchdog():
        say(f"FAIL notify_check: still running after {WATCHDOG_SECS} s; giving up")
        if ctx.server.proc and ctx.server.proc.poll() is None:
            ctx.server.proc.kill()
        os._exit(1)
    timer = threading.Timer(WATCHDOG_SECS, watchdog)
    timer.daemon = True
    timer.start()

    started = time.monotonic()
    failed = []

    def run(name, check):
        t = time.monotonic()
        try:
            detail = check(ctx)
            say(f"ok   {name} ({time.monotonic() - t:.1f} s): {detail}")
        except CheckFailed as e:
            failed.append(name)
            say(f"FAIL {name}: {e}")
        except Exception as e:  # noqa: BLE001 - reported as that check's failure
            failed.append(name)
            say(f"FAIL {name}: {type(e).__name__}: {e}")
            traceback.print_exc()

    try:
        seq = ctx.server.start()
        say(f"bourse serving at {ctx.server.base} (recovered seq {seq}); SMTP on {smtp_port}, "
            f"SMS at {ctx.sms.url}")
        run("prepare (2 verified users for reset and change)", prepare_reset_and_change)
        run("1a email verification", check_email_verification)
        run("1b SMS verification", check_sms_verification)
        run("3 TOTP and recovery codes", check_totp)
        run("4 new-device log-in email", check_new_device_login)
        run("5a webhook signatures", check_webhook_signatures)
        run("5b webhook retries", check_webhook_retries)
        run("5c dead webhook and replay", check_webhook_dead_and_replay)
        run("5d slow receiver isolation", check_slow_receiver)
        run("2a password reset", check_password_reset)
        run("2b email change", check_email_change)
        run("6 restart with pending notifications", check_restart_with_pending)
        run("clean stop", lambda c: (c.server.terminate(), "SIGTERM → exit 0")[1])
    except CheckFailed as e:
        failed.append("server start")
        say(f"FAIL server start: {e}")
    finally:
        if ctx.server.proc and ctx.server.proc.poll() is None:
            ctx.server.proc.kill()
        smtp.stop()
    took = time.monotonic() - started
    if failed:
        say(f"notify_check: {len(failed)} failed ({'; '.join(failed)}) in {took:.0f} s")
        sys.exit(1)
    say(f"notify_check: all checks passed in {took:.0f} s")


if __name__ == "__main__":
    main()
