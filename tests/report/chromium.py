"""Open an HTML file in headless Chromium over the DevTools protocol: console errors, a marker, screenshots.

Used by the browser test and to make the README's screenshots::

    .venv/bin/python -m tests.report.chromium REPORT.html OUT_DIR [section-id ...]

Chromium is Debian's ``chromium`` package (``make test`` installs it when it
can). It starts with a fresh profile, no network (every host name resolves to
nothing), no GPU, no extensions and no sandbox (tests run as root), and is
stopped at the end. The DevTools client is ``websockets``' synchronous one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The Chromium binary on PATH, or None."""
    return next((p for name in CHROMIUM_NAMES if (p := shutil.which(name))), None)


class Page:
    """One page in a headless Chromium, driven over CDP; collects console errors and exceptions."""

    def __init__(self, binary: str, width: int = 1280, height: int = 900):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self._profile = tempfile.mkdtemp(prefix="mlbudget-chromium-")
        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={self._profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._id = 0
        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(self._connect())
        self._call("Page.enable")
        self._call("Runtime.enable")
        self._call("Log.enable")
        self._call("Network.enable")
        self._call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _connect(self) -> Any:
        import urllib.request

        from websockets.sync.client import connect

        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port within 30 s")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t.get("type") == "page")
        return connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)

    def _call(self, method: str, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
        self._id += 1
        my_id = self._id
        self._ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append("exception: " + str(details.get("exception", {}).get("description") or details))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:", "blob:")):
                self.requests.append(url)

    def open(self, path: Path, timeout: float = 60.0) -> None:
        self._call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("document.readyState === 'complete'", timeout)

    def evaluate(self, expression: str) -> Any:
        result = self._call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"{expression} still false after {timeout:g} s")

    def screenshot(self, out: Path, clip: dict[str, float] | None = None) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if clip:
            params.update(clip=clip | {"scale": 1}, captureBeyondViewport=True)
        data = self._call("Page.captureScreenshot", **params)["data"]
        out.write_bytes(base64.b64decode(data))
        return out

    def section_clip(self, element_id: str, max_height: float = 900) -> dict[str, float]:
        """The page rectangle of an element (its first ``max_height`` pixels)."""
        rect = self.evaluate(
            f"(function() {{ var r = document.getElementById({json.dumps(element_id)}).getBoundingClientRect();"
            " return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height}; })()"
        )
        return {
            "x": max(rect["x"] - 8, 0),
            "y": max(rect["y"] - 4, 0),
            "width": rect["width"] + 16,
            "height": min(rect["height"] + 8, max_height),
        }

    def close(self) -> None:
        try:
            if getattr(self, "_stack", None) is not None:
                self._stack.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render(html: Path, page: Page, timeout: float = 60.0) -> int:
    """Open ``html`` and wait for its charts; returns how many were drawn (raises on a page error)."""
    page.open(html, timeout)
    page.wait_for("document.body.hasAttribute('data-rendered') || document.body.hasAttribute('data-errors')", timeout)
    errors = page.evaluate("document.body.getAttribute('data-errors')")
    if errors:
        raise AssertionError(f"{html}: the page reported errors: {errors}")
    return int(page.evaluate("document.body.getAttribute('data-rendered')"))


def main(argv: list[str]) -> int:
    """Screenshots of ``sections`` of a report (default: every <section>) into OUT_DIR."""
    if len(argv) < 2:
        sys.stderr.write("usage: python -m tests.report.chromium REPORT.html OUT_DIR [section-id ...]\n")
        return 2
    html, out_dir = Path(argv[0]), Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = find_chromium()
    if binary is None:
        sys.stderr.write("chromium not found (apt-get install chromium)\n")
        return 3
    with Page(binary) as page:
        drawn = render(html, page)
        sections = argv[2:] or page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
        for sid in sections:
            path = page.screenshot(out_dir / f"{sid}.png", page.section_clip(sid))
            print(path)
        print(f"{drawn} charts, {len(page.errors)} console errors, {len(page.requests)} network requests")
        for e in page.errors:
            print("  ", e)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
