// The example app's logic: the access token lives in this closure only (never localStorage, never
// a cookie of ours); the refresh token lives in authgate's HttpOnly cookie, which no script can
// read. On load, and ahead of each expiry, the app asks /auth/refresh for a new access token.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  // Where the gateway is: ?gateway=… for local runs and tests, else the usual local address.
  const GATEWAY = (params.get("gateway") || "http://localhost:8080").replace(/\/+$/, "");
  // An API behind the gateway's reverse proxy (a `routes` entry).
  const API = params.get("api") || "/api/hello";

  let accessToken = null;
  let expiresAt = 0;
  let refreshTimer = null;
  let inFlight = null;
  let refreshes = 0;

  const $ = (id) => document.getElementById(id);

  function setState(state) {
    document.body.dataset.state = state;
  }

  function showError(message) {
    $("error").textContent = message;
  }

  /** The gateway's sign-in page, coming back here afterwards. */
  function goToSignIn(extra = "") {
    accessToken = null;
    clearTimeout(refreshTimer);
    setState("leaving");
    location.assign(`${GATEWAY}/auth/login?${extra}rd=${encodeURIComponent(location.href)}`);
  }

  /**
   * A new access token from the refresh cookie: "include" sends the cookie (HttpOnly, Path=/auth,
   * SameSite=Strict: the app must be same-site with the gateway), X-Authgate-CSRF is the header a
   * cross-site form cannot send. One refresh at a time: the timer and a 401 retry share it.
   * Resolves to "ok", "signed-out" (the gateway refused: sign in again) or "offline".
   */
  function refresh() {
    inFlight ??= (async () => {
      try {
        const response = await fetch(`${GATEWAY}/auth/refresh`, {
          method: "POST",
          credentials: "include",
          headers: { "X-Authgate-CSRF": "1" },
        });
        if (!response.ok) return "signed-out";
        const tokens = await response.json();
        accessToken = tokens.access_token;
        expiresAt = Date.now() + tokens.expires_in * 1000;
        scheduleRefresh(tokens.expires_in);
        return "ok";
      } catch {
        showError("The gateway cannot be reached; retrying.");
        return "offline";
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  }

  /** Refresh when a fifth of the lifetime (at most a minute) is left. */
  function scheduleRefresh(expiresIn) {
    clearTimeout(refreshTimer);
    const lead = Math.min(60, expiresIn / 5);
    refreshTimer = setTimeout(backgroundRefresh, Math.max(1, expiresIn - lead) * 1000);
  }

  async function backgroundRefresh() {
    const result = await refresh();
    if (result === "ok") {
      refreshes += 1;
      $("refresh-count").textContent = String(refreshes);
      showError("");
    } else if (result === "signed-out") {
      goToSignIn();
    } else {
      refreshTimer = setTimeout(backgroundRefresh, 5000);
    }
  }

  /** fetch with the bearer token; one refresh and retry on a 401 (the token may just have expired). */
  async function call(path, options = {}, retry = true) {
    const headers = new Headers(options.headers || {});
    if (accessToken) headers.set("Authorization", `Bearer ${accessToken}`);
    const response = await fetch(GATEWAY + path, { ...options, headers });
    if (response.status === 401 && retry) {
      const result = await refresh();
      if (result === "ok") {
        refreshes += 1;
        $("refresh-count").textContent = String(refreshes);
        return call(path, options, false);
      }
      if (result === "signed-out") goToSignIn();
    }
    return response;
  }

  async function showUser() {
    const response = await call("/auth/me");
    if (!response.ok) return;
    const { user, session } = await response.json();
    $("user-login").textContent = user.login;
    $("user-name").textContent = user.name || "—";
    $("user-email").textContent = user.email || "—";
    $("session-id").textContent = session.id;
  }

  async function callAPI() {
    const result = $("api-result");
    result.textContent = "Calling…";
    try {
      const response = await call(API);
      result.dataset.status = String(response.status);
      let seenAs = "";
      if (response.headers.get("Content-Type")?.includes("json")) {
        const body = await response.json();
        // The echo upstream of the tests returns the headers it received.
        const login = (body.headers || []).find(([name]) => name.toLowerCase() === "x-authgate-login");
        if (login) seenAs = `; it saw you as ${login[1]}`;
      }
      result.textContent = `The API answered ${response.status}${seenAs}.`;
    } catch {
      result.dataset.status = "error";
      result.textContent = "The API could not be reached.";
    }
  }

  async function loadSessions() {
    const response = await call("/auth/sessions");
    if (!response.ok) return;
    const { sessions } = await response.json();
    const list = $("sessions");
    list.replaceChildren();
    for (const session of sessions) {
      const item = document.createElement("li");
      item.dataset.sessionId = session.id;
      const when = new Date(session.created_at).toLocaleString();
      item.append(`${session.current ? "This browser" : session.user_agent || "Another client"}, signed in ${when} from ${session.client_ip} `);
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke the session signed in ${when}${session.current ? " (this browser)" : ""}`);
      revoke.addEventListener("click", () => revokeSession(session));
      item.append(revoke);
      list.append(item);
    }
    list.dataset.count = String(sessions.length);
  }

  async function revokeSession(session) {
    const response = await call(`/auth/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
    if (session.current && response.ok) return goToSignIn();
    await loadSessions();
  }

  /** Ends this session (or all of them); the answer also clears the cookie, hence "include". */
  async function signOut(path) {
    await call(path, { method: "POST", credentials: "include" });
    goToSignIn("signed_out=1&");
  }

  function tick() {
    if (accessToken) $("expires-in").textContent = `${Math.max(0, Math.round((expiresAt - Date.now()) / 1000))} s`;
  }

  async function start() {
    $("call-api").addEventListener("click", callAPI);
    $("load-sessions").addEventListener("click", loadSessions);
    $("sign-out").addEventListener("click", () => signOut("/auth/logout"));
    $("sign-out-everywhere").addEventListener("click", () => signOut("/auth/logout-all"));
    // A reload loses the token in memory: the cookie brings a new one, silently.
    let result = await refresh();
    while (result === "offline") {
      await new Promise((resolve) => setTimeout(resolve, 5000));
      result = await refresh();
    }
    if (result === "signed-out") return goToSignIn();
    showError("");
    await showUser();
    await loadSessions();
    $("status").textContent = "You are signed in.";
    $("signed-in").hidden = false;
    setState("signed-in");
    setInterval(tick, 1000);
    tick();
  }

  start();
})();
