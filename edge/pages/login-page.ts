import { PASSWORD_MAX, PASSWORD_MIN } from "../accounts/users.ts";
import { appPage, CLIENT_PRELUDE } from "./app-shell.ts";

/**
 * Sign-up and login (`/login`): two forms whose nonce'd script posts JSON to `POST /api/v1/users`
 * and `POST /api/v1/sessions`, keeps `{token, expires_at, user}` in localStorage and goes on to
 * `/creator` (or `?next=` when it is a path on this site). The forms have no action: without the
 * script nothing is sent (and the CSP's `form-action 'none'` would block it anyway).
 */
const LOGIN_SCRIPT = String.raw`
  ${CLIENT_PRELUDE}

  function nextPath() {
    var next = new URLSearchParams(location.search).get("next");
    // Only paths on this site: "/x", never "//host" or "/\host".
    return next && /^\/(?![\/\\])/.test(next) ? next : "/creator";
  }

  function showSession() {
    var s = loadSession();
    $("signed-in").hidden = !s;
    $("forms").hidden = !!s;
    if (s) $("who").textContent = s.user && s.user.username ? s.user.username : "?";
  }

  function wire(formId, path, expected) {
    var form = $(formId);
    var errorEl = form.querySelector(".error");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorEl.textContent = "";
      var username = form.elements.namedItem("username").value;
      var password = form.elements.namedItem("password").value;
      if (form.elements.namedItem("password2") && form.elements.namedItem("password2").value !== password) {
        errorEl.textContent = "The passwords do not match.";
        return;
      }
      button.disabled = true;
      api("POST", path, { username: username, password: password })
        .then(function (r) {
          if (r.status !== expected || !r.body || typeof r.body.token !== "string") {
            errorEl.textContent = describeError(r);
            return;
          }
          saveSession({ token: r.body.token, expires_at: r.body.expires_at || null, user: r.body.user || { username: username } });
          form.reset();
          location.assign(nextPath());
        })
        .catch(function (err) { errorEl.textContent = "Network error: " + err.message; })
        .then(function () { button.disabled = false; });
    });
  }

  wire("signup", "/api/v1/users", 201);
  wire("login", "/api/v1/sessions", 200);
  $("logout").addEventListener("click", function () { clearSession(); showSession(); });
  $("continue").setAttribute("href", nextPath());
  showSession();
`;

const BODY = `<nav class="top"><a href="/">Directory</a><a href="/creator">Creator dashboard</a></nav>
<h1>Sign up or log in</h1>
<p class="sub">New accounts can stream right away. Your session is kept in this browser only.</p>
<section id="signed-in" hidden>
<p>Signed in as <strong id="who"></strong>. <a id="continue" href="/creator">Continue to the creator dashboard →</a></p>
<button type="button" class="secondary" id="logout">Log out</button>
</section>
<div class="cols" id="forms">
<form class="card" id="signup" method="post" autocomplete="on" novalidate>
<h2>Create an account</h2>
<label>Username <input name="username" autocomplete="username" required minlength="3" maxlength="32" pattern="[a-z0-9_]+" spellcheck="false" autocapitalize="none"></label>
<label>Password <input name="password" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN}" maxlength="${PASSWORD_MAX}"></label>
<label>Repeat the password <input name="password2" type="password" autocomplete="new-password" required minlength="${PASSWORD_MIN}" maxlength="${PASSWORD_MAX}"></label>
<button type="submit">Sign up</button>
<p class="error" role="alert"></p>
</form>
<form class="card" id="login" method="post" autocomplete="on" novalidate>
<h2>Log in</h2>
<label>Username <input name="username" autocomplete="username" required maxlength="64" spellcheck="false" autocapitalize="none"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="${PASSWORD_MAX}"></label>
<button type="submit">Log in</button>
<p class="error" role="alert"></p>
</form>
</div>`;

export const loginPage = (options: { nonce: string }): string => appPage("Sign up or log in · Cascade", BODY, LOGIN_SCRIPT, options.nonce);
