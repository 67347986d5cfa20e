/**
 * The edge Worker entry. Playlist/media delivery with blocking reload, request coalescing and the
 * player pages arrive with the edge milestone; until then the Worker reports its health only.
 */
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ status: "ok", component: "edge" });
    return Response.json({ error: "not found" }, { status: 404 });
  },
};
