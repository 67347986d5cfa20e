import { PASSWORD_MAX, PASSWORD_MIN } from "../accounts/users.ts";
import { appPage } from "./app-shell.ts";
import { LOGIN_SCRIPT } from "./client-scripts.ts";

/**
 * Sign-up and login (`/login`): two forms whose nonce'd script (client/login.js) posts JSON to
 * `POST /api/v1/users` and `POST /api/v1/sessions`, keeps `{token, expires_at, user}` in localStorage
 * and goes on to `/creator` (or `?next=` when it is a path on this site). The forms have no action:
 * without the script nothing is sent (and the CSP's `form-action 'none'` would block it anyway).
 */
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

export const loginPage = (options: { nonce: string }): string => appPage("Sign up or log in · Cascade", BODY, LOGIN_SCRIPT, options.nonce, {});
