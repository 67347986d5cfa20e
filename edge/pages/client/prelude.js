"use strict";
/**
 * What every page script starts with (edge/pages/client-scripts.ts puts it and the page's own
 * script in one function, so nothing leaks onto `window`): `PAGE`, the page's JSON data island;
 * `$`; the session in localStorage; `api(method, path, body)` → `{ status, body }` with the bearer
 * token (a 401 clears the session); `describeError`, the API's `{error, fields}` as one line per
 * field; and `el`, an element with attributes and text (never markup).
 */
/* exported PAGE, $, loadSession, saveSession, clearSession, api, describeError, el */

/** @type {import("./page-data.ts").PageData} */
var PAGE = JSON.parse(/** @type {HTMLElement} */ (document.getElementById("page-data")).textContent || "{}");
var SESSION_KEY = PAGE.sessionKey;
/** The page's element with this id (the pages' markup has every id the scripts ask for). */
var $ = function (/** @type {string} */ id) { return /** @type {HTMLElement} */ (document.getElementById(id)); };

/** @returns {Session | null} */
function loadSession() {
  try {
    var s = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (!s || typeof s.token !== "string") return null;
    if (s.expires_at && Date.parse(s.expires_at) <= Date.now()) { localStorage.removeItem(SESSION_KEY); return null; }
    return s;
  } catch { return null; }
}
/** @param {Session} s */
function saveSession(s) { localStorage.setItem(SESSION_KEY, JSON.stringify(s)); }
function clearSession() { localStorage.removeItem(SESSION_KEY); }

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<ApiResult>}
 */
function api(method, path, body) {
  /** @type {Record<string, string>} */
  var headers = { accept: "application/json" };
  var session = loadSession();
  if (session) headers.authorization = "Bearer " + session.token;
  if (body !== undefined) headers["content-type"] = "application/json";
  return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store" })
    .then(function (res) {
      return res.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
        if (res.status === 401 && session) clearSession();
        return { status: res.status, body: parsed };
      });
    });
}

/** @param {ApiResult} r */
function describeError(r) {
  var b = r.body || {};
  var lines = [b.error || ("request failed (" + r.status + ")")];
  if (b.fields && typeof b.fields === "object") {
    Object.keys(b.fields).forEach(function (k) { lines.push(k + ": " + b.fields[k]); });
  }
  if (r.status === 429 && b.retry_after) lines.push("try again in " + b.retry_after + " s");
  return lines.join("\n");
}

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string> | null} [attrs]
 * @param {unknown} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, /** @type {string} */ (attrs[k])); });
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
