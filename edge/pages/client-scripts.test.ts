import { describe, expect, it } from "vitest";
import { CHAT_SCRIPT, CREATOR_SCRIPT, DIRECTORY_RELOAD_SCRIPT, LOGIN_SCRIPT, PLAYER_SCRIPT } from "./client-scripts.ts";
import { pageDataIsland } from "./html.ts";

const SCRIPTS = { PLAYER_SCRIPT, CHAT_SCRIPT, LOGIN_SCRIPT, CREATOR_SCRIPT };

describe("the pages' browser scripts", () => {
  it("are the client files as written, each in one strict function after the prelude", () => {
    for (const [name, script] of Object.entries(SCRIPTS)) {
      expect(script.startsWith('(function () {\n"use strict";\n'), name).toBe(true);
      expect(script.trimEnd().endsWith("})();"), name).toBe(true);
      expect(script, name).toContain('var PAGE = JSON.parse(/** @type {HTMLElement} */ (document.getElementById("page-data")).textContent || "{}");');
    }
    expect(PLAYER_SCRIPT).toContain("window.cascadePlayer = player;");
    expect(CHAT_SCRIPT).toContain("window.cascadeChat = chat;");
    expect(LOGIN_SCRIPT).toContain('wire("login", "/api/v1/sessions", 200);');
    expect(CREATOR_SCRIPT).toContain("var SAGA_POLL_MS = DATA.sagaPollMs;");
  });

  it("can be inlined: nothing in them ends or changes the script element", () => {
    // The HTML parser ends an inline script at `</script` and treats `<!--` + `<script` specially.
    for (const [name, script] of Object.entries({ ...SCRIPTS, DIRECTORY_RELOAD_SCRIPT })) expect(script, name).not.toMatch(/<\/script|<!--|<script/i);
  });

  it("get their data from a JSON island the browser never runs, escaped so no value ends it", () => {
    const island = pageDataIsland({ sessionKey: "</script><!--<script>\u2028&" });
    expect(island).toBe(String.raw`<script type="application/json" id="page-data">{"sessionKey":"\u003c/script\u003e\u003c!--\u003cscript\u003e\u2028\u0026"}</script>`);
    const json = /^<script type="application\/json" id="page-data">(.*)<\/script>$/s.exec(island)![1]!;
    expect(JSON.parse(json)).toEqual({ sessionKey: "</script><!--<script>\u2028&" });
  });
});
