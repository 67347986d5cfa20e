/**
 * The D1 directory's reload (edge/pages/directory-page.ts): every `reloadMs` (the page's data island,
 * page-data.ts DirectoryPageData), unless the tab is hidden or the search box is in use. The one page
 * script that runs without the prelude.
 */
(function () {
  "use strict";
  var DATA = /** @type {import("./page-data.ts").DirectoryPageData} */ (JSON.parse(/** @type {HTMLElement} */ (document.getElementById("page-data")).textContent || "{}"));
  var q = /** @type {HTMLInputElement | null} */ (document.getElementById("q"));
  var initial = q ? q.value : "";
  setInterval(function () {
    if (document.hidden) return;
    if (q && (document.activeElement === q || q.value !== initial)) return;
    location.reload();
  }, DATA.reloadMs);
})();
