#!/usr/bin/env python3
"""Logs in to capnet's Web UI with headless Chromium, as an operator would.

Starts Chromium with --remote-debugging-pipe and drives it over the Chrome
DevTools Protocol: JSON messages, each ended by a NUL byte, that Chromium
reads on its fd 3 and writes on its fd 4. The script opens the login page,
types the admin token into the form and submits it. Once the dashboard
script has redrawn the page from /api/status, it reads the DOM, the cookies
Chromium stored and the TLS details of each response, and takes a PNG
screenshot.

It prints one JSON object on stdout for the Swift test to judge; it makes
no judgement itself beyond failing when a step does not happen in time.
Run it inside the network namespace that holds the server.
"""

import argparse
import base64
import json
import os
import select
import subprocess
import sys
import time

# The fds Chromium uses for the DevTools pipe (fixed by Chromium).
CHROMIUM_READ_FD = 3
CHROMIUM_WRITE_FD = 4
# Bound on one message from Chromium. A screenshot is the largest.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024

# Page script that returns the DOM facts the test checks.
DOM_FACTS = """
(() => {
  const table = (id) => {
    const element = document.querySelector("table#" + id);
    return element ? { rows: element.querySelectorAll("tbody tr").length, text: element.textContent } : null;
  };
  const tables = {};
  for (const id of ["interfaces", "neighbors", "connections", "tls-sessions", "certificates", "captures"]) {
    tables[id] = table(id);
  }
  const charts = {};
  for (const svg of document.querySelectorAll("svg.chart")) {
    charts[svg.id] = { polylines: svg.querySelectorAll("polyline").length };
  }
  const root = document.getElementById("dashboard");
  return JSON.stringify({
    location: window.location.href,
    title: document.title,
    documentCookie: document.cookie,
    updated: root ? (root.dataset.updated || null) : null,
    tables: tables,
    charts: charts,
    html: document.documentElement.outerHTML,
  });
})()
"""

# Page script whose promise resolves once the dashboard script has redrawn
# the page from /api/status and set data-updated on #dashboard. It rejects
# after the given number of milliseconds.
WAIT_FOR_UPDATE = """
new Promise((resolve, reject) => {
  const root = document.getElementById("dashboard");
  if (!root) { reject(new Error("no #dashboard element at " + window.location.href)); return; }
  if (root.dataset.updated) { resolve(root.dataset.updated); return; }
  const timer = setTimeout(() => reject(new Error("the dashboard did not update")), %d);
  new MutationObserver((_, observer) => {
    if (root.dataset.updated) { clearTimeout(timer); observer.disconnect(); resolve(root.dataset.updated); }
  }).observe(root, { attributes: true });
})
"""


class StepFailed(Exception):
    pass


class DevToolsPipe:
    """The client end of Chromium's DevTools pipe."""

    def __init__(self, to_chromium, from_chromium, deadline):
        self.to_chromium = to_chromium
        self.from_chromium = from_chromium
        self.deadline = deadline
        self.buffer = b""
        self.next_id = 1
        self.events = []

    def _read_message(self):
        while True:
            end = self.buffer.find(b"\0")
            if end >= 0:
                message = self.buffer[:end]
                self.buffer = self.buffer[end + 1:]
                return json.loads(message)
            if len(self.buffer) > MAX_MESSAGE_BYTES:
                raise StepFailed("a DevTools message exceeded %d bytes" % MAX_MESSAGE_BYTES)
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise StepFailed("timed out waiting for Chromium")
            ready, _, _ = select.select([self.from_chromium], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.from_chromium, READ_CHUNK_BYTES)
            if not chunk:
                raise StepFailed("Chromium closed the DevTools pipe")
            self.buffer += chunk

    def call(self, method, params=None, session=None):
        identifier = self.next_id
        self.next_id += 1
        message = {"id": identifier, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self.to_chromium, data)
            data = data[written:]
        while True:
            reply = self._read_message()
            if reply.get("id") == identifier:
                if "error" in reply:
                    raise StepFailed("%s failed: %s" % (method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, predicate, description):
        """Returns the first recorded or arriving event that matches."""
        for index, event in enumerate(self.events):
            if predicate(event):
                del self.events[index]
                return event
        while True:
            try:
                event = self._read_message()
            except StepFailed as error:
                raise StepFailed("%s: %s" % (description, error))
            if "method" not in event:
                continue
            if predicate(event):
                return event
            self.events.append(event)


def is_event(name, session):
    return lambda event: event.get("method") == name and event.get("sessionId") == session


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--base-url", required=True, help="for example https://192.0.2.2")
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--spki", required=True, help="base64 SHA-256 of the server's SubjectPublicKeyInfo")
    parser.add_argument("--profile", required=True, help="Chromium's user data directory")
    parser.add_argument("--pid-file", help="where to write Chromium's process id")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1600)
    arguments = parser.parse_args()
    deadline = time.monotonic() + arguments.timeout
    with open(arguments.token_file) as file:
        token = file.read().strip()

    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--user-data-dir=" + arguments.profile, "--no-proxy-server",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-domain-reliability", "--no-pings", "--disable-breakpad",
        "--disable-dev-shm-usage", "--hide-scrollbars",
        "--window-size=%d,%d" % (arguments.width, arguments.height),
        # Ignores certificate errors only for a chain that contains this key.
        "--ignore-certificate-errors-spki-list=" + arguments.spki,
        "--remote-debugging-pipe", "about:blank",
    ]
    to_chromium_read, to_chromium_write = os.pipe()
    from_chromium_read, from_chromium_write = os.pipe()

    def attach_pipe():
        # Copies first, since either pipe end may already sit on fd 3 or 4.
        read_end = os.dup(to_chromium_read)
        write_end = os.dup(from_chromium_write)
        os.dup2(read_end, CHROMIUM_READ_FD, inheritable=True)
        os.dup2(write_end, CHROMIUM_WRITE_FD, inheritable=True)

    log_path = os.path.join(arguments.profile, "chromium.log")
    os.makedirs(arguments.profile, exist_ok=True)
    log = open(log_path, "wb")
    chromium = subprocess.Popen([arguments.chromium] + flags, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, close_fds=False, preexec_fn=attach_pipe)
    os.close(to_chromium_read)
    os.close(from_chromium_write)
    if arguments.pid_file:
        with open(arguments.pid_file, "w") as file:
            file.write("%d\n" % chromium.pid)
    result = {"steps": []}
    try:
        pipe = DevToolsPipe(to_chromium_write, from_chromium_read, deadline)
        drive(pipe, arguments, token, result)
        result["ok"] = True
    except StepFailed as error:
        result["ok"] = False
        result["error"] = str(error)
    finally:
        try:
            os.write(to_chromium_write, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        except OSError:
            pass
        try:
            chromium.wait(timeout=10)
        except subprocess.TimeoutExpired:
            chromium.kill()
            chromium.wait()
        log.close()
        with open(log_path, "rb") as file:
            result["chromiumLog"] = file.read()[-4000:].decode(errors="replace")
    json.dump(result, sys.stdout)
    return 0 if result["ok"] else 1


def drive(pipe, arguments, token, result):
    steps = result["steps"]
    targets = pipe.call("Target.getTargets")["targetInfos"]
    pages = [target for target in targets if target["type"] == "page"]
    if not pages:
        raise StepFailed("Chromium opened no page")
    session = pipe.call("Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True})["sessionId"]
    # The headless viewport is smaller than the window, so this sets the
    # page, and with it the screenshot, to exactly the requested size.
    pipe.call("Emulation.setDeviceMetricsOverride", {"width": arguments.width, "height": arguments.height,
                                                     "deviceScaleFactor": 1, "mobile": False}, session=session)
    pipe.call("Page.enable", session=session)
    pipe.call("Network.enable", session=session)

    responses = []

    def note_responses():
        remaining = []
        for event in pipe.events:
            if event.get("method") == "Network.responseReceived":
                response = event["params"]["response"]
                details = response.get("securityDetails") or {}
                responses.append({
                    "url": response["url"], "status": response["status"],
                    "protocol": details.get("protocol"), "cipher": details.get("cipher"),
                    "keyExchangeGroup": details.get("keyExchangeGroup"),
                    "subjectName": details.get("subjectName"), "issuer": details.get("issuer"),
                    "sanList": details.get("sanList"),
                    "securityState": response.get("securityState"),
                })
            else:
                remaining.append(event)
        pipe.events = remaining

    pipe.call("Page.navigate", {"url": arguments.base_url + "/login"}, session=session)
    pipe.wait_for(is_event("Page.loadEventFired", session), "the login page did not load")
    form = pipe.call("Runtime.evaluate", {"expression": "document.getElementById('token') !== null",
                                          "returnByValue": True}, session=session)
    if form["result"].get("value") is not True:
        # Chromium shows an error page instead, for example for a certificate it rejected.
        raise StepFailed("the login page has no token field; the browser shows another page")
    steps.append("login page loaded")

    # Types the token as keyboard input into the focused field, then
    # presses the form's button.
    pipe.call("Runtime.evaluate", {"expression": "document.getElementById('token').focus()"}, session=session)
    pipe.call("Input.insertText", {"text": token}, session=session)
    pipe.call("Runtime.evaluate", {"expression": "document.querySelector('form button[type=submit]').click()"},
              session=session)
    steps.append("login form submitted")
    pipe.wait_for(lambda event: event.get("method") == "Page.frameNavigated"
                  and event.get("sessionId") == session
                  and event["params"]["frame"].get("parentId") is None
                  and event["params"]["frame"]["url"].rstrip("/") == arguments.base_url,
                  "the browser did not reach the dashboard")
    pipe.wait_for(is_event("Page.loadEventFired", session), "the dashboard did not load")
    steps.append("dashboard loaded")

    update_limit_ms = int(max(1, deadline_left(pipe) - 5) * 1000)
    updated = pipe.call("Runtime.evaluate", {"expression": WAIT_FOR_UPDATE % update_limit_ms,
                                             "awaitPromise": True, "returnByValue": True}, session=session)
    if "exceptionDetails" in updated:
        raise StepFailed("waiting for the dashboard update: %s" % updated["exceptionDetails"])
    steps.append("dashboard updated from /api/status")

    facts = pipe.call("Runtime.evaluate", {"expression": DOM_FACTS, "returnByValue": True}, session=session)
    result["dom"] = json.loads(facts["result"]["value"])
    result["cookies"] = pipe.call("Network.getCookies", {"urls": [arguments.base_url + "/"]},
                                  session=session)["cookies"]
    shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session)
    with open(arguments.screenshot, "wb") as file:
        file.write(base64.b64decode(shot["data"]))
    steps.append("screenshot taken")
    note_responses()
    result["responses"] = responses


def deadline_left(pipe):
    return pipe.deadline - time.monotonic()


if __name__ == "__main__":
    sys.exit(main())
