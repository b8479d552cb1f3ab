#!/usr/bin/env python3
"""The example single-page app (examples/spa) against a running gateway, in headless Chromium.

BrowserTests.swift starts the gateway, an echo API behind its proxy and a static server for the
app on another origin, then runs this script. It prints one `ok:` line per check, the screenshot
paths, and a closing `result:` line; it exits 0 when every check passed, 1 on the
first failure (with a screenshot and the page's text), 2 when the browser cannot start.
"""

import argparse
import json
import os
import shutil
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

# Never let Selenium Manager fetch a browser or driver: Debian's chromium and chromium-driver are used.
os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WRONG_CREDENTIALS = "The username or password is incorrect."


class CheckFailed(Exception):
    pass


class Flow:
    def __init__(self, args, driver):
        self.args = args
        self.driver = driver
        self.gateway = args.gateway.rstrip("/")
        self.app = args.app
        self.passed = 0

    # -- helpers ------------------------------------------------------------------------------

    def ok(self, message):
        self.passed += 1
        print(f"ok: {message}", flush=True)

    def check(self, condition, message, detail=""):
        if not condition:
            raise CheckFailed(f"{message}{': ' + str(detail) if detail else ''}")
        self.ok(message)

    def wait(self, condition, message, timeout=15):
        try:
            # A page may be replaced while a condition reads it: that is "not yet", asked again.
            result = WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                   ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(lambda d: condition())
        except TimeoutException:
            raise CheckFailed(f"timed out: {message} (at {self.driver.current_url})") from None
        self.ok(message)
        return result

    def by_id(self, element_id):
        return self.driver.find_element(By.ID, element_id)

    def active_id(self):
        return self.driver.switch_to.active_element.get_attribute("id")

    def screenshot(self, name):
        path = os.path.join(self.args.output, name)
        self.driver.save_screenshot(path)
        print(f"screenshot: {path}", flush=True)
        return path

    def cookies(self):
        """Every cookie in the browser, HttpOnly ones included (DevTools, not document.cookie)."""
        return self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]

    def refresh_cookie(self):
        return next((c for c in self.cookies() if c["name"] == "authgate_refresh"), None)

    def post(self, path, headers, body=None):
        """A request from outside the browser: (status, JSON body or {})."""
        request = urllib.request.Request(self.gateway + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text or b"{}")
            except ValueError:
                return error.code, {}

    def on_sign_in_page(self):
        parts = urllib.parse.urlsplit(self.driver.current_url)
        return f"{parts.scheme}://{parts.netloc}" == self.gateway and parts.path == "/auth/login"

    def signed_in(self):
        return self.driver.execute_script("return document.body && document.body.dataset.state") == "signed-in"

    def wait_to_leave(self, page):
        """Until `page` (an element of the page being left) belongs to no document any more.
        Mid-navigation Chromium may say so as an inspector error instead of a stale element."""
        def gone(_):
            try:
                page.is_enabled()
                return False
            except StaleElementReferenceException:
                return True
            except WebDriverException as error:
                if "does not belong to the document" in str(error) or "No node with given id" in str(error):
                    return True
                raise
        WebDriverWait(self.driver, 15, poll_frequency=0.05).until(gone)

    def submit_sign_in(self, username, password):
        """Keyboard only: fill the fields and press Enter, as a person without a mouse would.
        Waits until the browser has left the page it submitted (the form is a plain POST), so
        nothing after this reads the old page's elements."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        field = self.by_id("username")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(username)
        field.send_keys(Keys.TAB)
        self.check(self.active_id() == "password", "Tab moves from the username to the password field")
        self.driver.switch_to.active_element.send_keys(password, Keys.ENTER)
        self.wait_to_leave(page)

    # -- the scenario -------------------------------------------------------------------------

    def run(self):
        d = self.driver

        # 1. The app finds no session and sends the browser to the gateway's sign-in page.
        d.get(self.app)
        self.wait(self.on_sign_in_page, "the app sends the browser to the sign-in page")
        rd = urllib.parse.parse_qs(urllib.parse.urlsplit(d.current_url).query).get("rd", [""])[0]
        self.check(rd == self.app, "the sign-in URL carries rd back to the app", rd)
        self.check(d.find_element(By.TAG_NAME, "h1").text == "Sign in", "the sign-in page has its heading")
        for field, autocomplete in (("username", "username"), ("password", "current-password")):
            label = d.find_element(By.CSS_SELECTOR, f'label[for="{field}"]')
            self.check(label.is_displayed() and label.text, f"the {field} field has a visible label")
            self.check(self.by_id(field).get_attribute("autocomplete") == autocomplete, f"the {field} field has autocomplete={autocomplete}")
        # The inline stylesheet ran under the CSP (allowed by its hash): main is laid out by it.
        width = d.execute_script("return getComputedStyle(document.querySelector('main')).maxWidth")
        self.check(width == "352px", "the hashed inline stylesheet applies under the CSP", width)
        self.check(self.active_id() == "username", "the username field has the focus on arrival")
        self.screenshot("sign-in.png")

        # 2. Unknown user and wrong password: the same message, announced as an alert.
        self.submit_sign_in("nobody", "wrong-password")
        self.wait(lambda: d.find_elements(By.CSS_SELECTOR, '[role="alert"]'), "an error appears after an unknown user")
        unknown = d.find_element(By.CSS_SELECTOR, '[role="alert"]').text
        self.check(unknown == WRONG_CREDENTIALS, "an unknown user gets the wrong-credentials message", unknown)
        self.check(self.by_id("username").get_attribute("value") == "nobody", "the username is kept for another try")
        self.check(self.active_id() == "password", "the focus is on the password after a failure")
        self.check(self.by_id("password").get_attribute("aria-invalid") == "true", "the fields are marked invalid")
        d.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        self.check(self.active_id() == "username", "Shift+Tab goes back to the username")
        outline = d.execute_script("const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth")
        self.check(outline == "solid 3px", "keyboard focus is visible", outline)
        self.submit_sign_in(self.args.username, "wrong-password")
        self.wait(lambda: d.find_elements(By.CSS_SELECTOR, '[role="alert"]') and self.by_id("username").get_attribute("value") == self.args.username,
                  "the page comes back after a wrong password")
        wrong = d.find_element(By.CSS_SELECTOR, '[role="alert"]').text
        self.check(wrong == unknown, "a wrong password gets the same message as an unknown user", wrong)
        self.screenshot("sign-in-error.png")

        # 3. The right password: back in the app, which shows the user.
        page = d.find_element(By.TAG_NAME, "html")
        self.by_id("password").send_keys(self.args.password, Keys.ENTER)
        self.wait_to_leave(page)
        self.wait(self.signed_in, "the app shows the signed-in user after signing in")
        signed_in_at = time.monotonic()
        self.check(d.current_url == self.app, "sign-in returns to the app's URL", d.current_url)
        self.check(self.by_id("user-login").text == self.args.username, "the app shows /auth/me's user")
        self.screenshot("app-signed-in.png")

        # 4. The refresh token: in an HttpOnly, Secure, SameSite=Strict cookie, invisible to scripts.
        cookie = self.refresh_cookie()
        self.check(cookie is not None, "the browser holds the refresh cookie")
        self.check(cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/auth",
                   "the refresh cookie is HttpOnly, Secure, SameSite=Strict, Path=/auth", cookie)
        self.check("authgate_refresh" not in d.execute_script("return document.cookie"), "the app's document.cookie has no refresh cookie")

        # 5. Past the access token's lifetime the app has refreshed silently and the API still answers.
        ttl = self.args.access_ttl
        self.wait(lambda: time.monotonic() - signed_in_at > ttl + 1 and int(self.by_id("refresh-count").text) >= 1,
                  "the app refreshes its access token before it expires", timeout=ttl * 4 + 10)
        self.check(self.signed_in(), "the app is still signed in after the first token's lifetime")
        self.by_id("call-api").click()
        self.wait(lambda: self.by_id("api-result").get_attribute("data-status") not in (None, ""), "the API call finishes")
        result = self.by_id("api-result")
        self.check(result.get_attribute("data-status") == "200" and f"saw you as {self.args.username}" in result.text,
                   "the API behind the gateway's proxy answers with the user's identity", result.text)

        # A fetch without a token gets the 401 JSON, readable by the page (CORS on error answers).
        status = d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(r => r.json().then(b => done(r.status + ' ' + b.error))).catch(e => done('failed ' + e));",
            self.gateway + self.args.api_path)
        self.check(status == "401 invalid_token", "a fetch without a token reads the proxy's 401 JSON", status)

        # A browser navigation to the opted-in route goes to the sign-in page instead.
        d.get(self.gateway + self.args.api_path + "?from=navigation")
        self.wait(self.on_sign_in_page, "a navigation to the proxied route is sent to sign in")
        rd = urllib.parse.parse_qs(urllib.parse.urlsplit(d.current_url).query).get("rd", [""])[0]
        self.check(rd == self.args.api_path + "?from=navigation", "the navigation's rd is the original URL", rd)

        # The cookie is invisible to scripts even on the gateway's own /auth pages (the path matches).
        self.check("authgate_refresh" not in d.execute_script("return document.cookie"),
                   "document.cookie under /auth has no refresh cookie either")

        # 6. A reload keeps nothing in memory: the cookie brings a new access token silently.
        d.get(self.app)
        self.wait(self.signed_in, "after a reload the app signs in silently with the cookie")

        # Sessions: a second one (another client), listed, then revoked from the app.
        status, other = self.post("/auth/login", {"Content-Type": "application/json", "User-Agent": "spa-test-cli"},
                                  json.dumps({"username": self.args.username, "password": self.args.password}).encode())
        self.check(status == 200, "a second client signs in", status)
        self.by_id("load-sessions").click()
        self.wait(lambda: self.by_id("sessions").get_attribute("data-count") == "2", "the app lists both sessions")
        d.find_element(By.CSS_SELECTOR, f'li[data-session-id="{other["session_id"]}"] button').click()
        self.wait(lambda: self.by_id("sessions").get_attribute("data-count") == "1", "revoking the other session removes it from the list")
        status, body = self.post("/auth/refresh", {"Content-Type": "application/json"},
                                 json.dumps({"refresh_token": other["refresh_token"]}).encode())
        self.check(status == 401, "the revoked session's refresh token is refused", f"{status} {body}")

        # 7. Sign out everywhere: back at the sign-in page, and the old cookie no longer refreshes.
        old = self.refresh_cookie()
        self.check(old is not None, "the browser holds a refresh cookie before signing out")
        self.by_id("sign-out-everywhere").click()
        self.wait(self.on_sign_in_page, "signing out everywhere goes to the sign-in page")
        notice = d.find_elements(By.CSS_SELECTOR, '[role="status"]')
        self.check(notice and notice[0].text == "You have signed out.", "the sign-in page says the user signed out")
        self.check(self.refresh_cookie() is None, "the browser's refresh cookie is cleared")
        status, body = self.post("/auth/refresh", {"Cookie": f"authgate_refresh={old['value']}", "X-Authgate-CSRF": "1"})
        self.check(status == 401 and body.get("error") == "invalid_grant", "the old refresh cookie is refused with 401", f"{status} {body}")
        d.get(self.app)
        self.wait(self.on_sign_in_page, "the app sends a signed-out browser to sign in again")

        # 8. An rd to a foreign host is not followed: the gateway's own root instead.
        d.get(self.gateway + "/auth/login?rd=" + urllib.parse.quote("https://evil.example/steal", safe=""))
        self.submit_sign_in(self.args.username, self.args.password)
        self.wait(lambda: not self.on_sign_in_page(), "signing in with a foreign rd leaves the sign-in page")
        landed = urllib.parse.urlsplit(d.current_url)
        self.check(f"{landed.scheme}://{landed.netloc}" == self.gateway and landed.path == "/",
                   "a foreign rd is not followed: the browser lands on the gateway's /", d.current_url)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", required=True, help="the app's URL, e.g. http://localhost:8000/?gateway=http://localhost:8080")
    parser.add_argument("--gateway", required=True, help="the gateway's origin, e.g. http://localhost:8080")
    parser.add_argument("--api-path", default="/api/hello", help="a path on the gateway's proxy route with sign_in_redirect")
    parser.add_argument("--username", default="alice")
    parser.add_argument("--password", required=True)
    parser.add_argument("--access-ttl", type=float, default=5)
    parser.add_argument("--output", required=True, help="folder for screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    # What Chromium needs in a container: no sandbox (no user namespaces), /tmp instead of a small /dev/shm.
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1024,1100",
                 "--no-first-run", "--disable-extensions", "--disable-background-networking", "--lang=en-US"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)
    except WebDriverException as error:
        print(f"BROWSER-UNAVAILABLE: {str(error).strip().splitlines()[0] if str(error).strip() else error!r}", flush=True)
        return 2

    flow = Flow(args, driver)
    try:
        flow.run()
    except (CheckFailed, WebDriverException) as error:
        print(f"FAIL: {error}", flush=True)
        if isinstance(error, WebDriverException):
            # Which step the browser refused, not only what it said.
            traceback.print_exc(limit=-3, file=sys.stdout)
        try:
            flow.screenshot("failure.png")
            print("page text: " + driver.find_element(By.TAG_NAME, "body").text[:2000].replace("\n", " | "), flush=True)
        except WebDriverException:
            pass
        print(f"result: failed after {flow.passed} checks", flush=True)
        return 1
    finally:
        driver.quit()
    print(f"result: all {flow.passed} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
