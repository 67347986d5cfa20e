/**
 * Sign-up and login (`/login`), after the prelude (prelude.js): posts the forms as JSON to
 * `POST /api/v1/users` and `POST /api/v1/sessions`, keeps `{token, expires_at, user}` in localStorage
 * and goes on to `/creator` (or `?next=` when it is a path on this site).
 */
(function () {
  "use strict";
  function nextPath() {
    var next = new URLSearchParams(location.search).get("next");
    // Only paths on this site: "/x", never "//host" or "/\host".
    return next && /^\/(?![/\\])/.test(next) ? next : "/creator";
  }

  function showSession() {
    var s = loadSession();
    $("signed-in").hidden = !s;
    $("forms").hidden = !!s;
    if (s) $("who").textContent = s.user && s.user.username ? s.user.username : "?";
  }

  /**
   * @param {string} formId
   * @param {string} path
   * @param {number} expected the status of a success
   */
  function wire(formId, path, expected) {
    var form = /** @type {HTMLFormElement} */ ($(formId));
    var errorEl = /** @type {HTMLElement} */ (form.querySelector(".error"));
    var button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    /** @param {string} name */
    var field = function (name) { return /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name)); };
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorEl.textContent = "";
      var username = /** @type {HTMLInputElement} */ (field("username")).value;
      var password = /** @type {HTMLInputElement} */ (field("password")).value;
      var password2 = field("password2");
      if (password2 && password2.value !== password) {
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
})();
