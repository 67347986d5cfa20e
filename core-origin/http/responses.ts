/** JSON error bodies and cache headers shared by the origin's routes. */

export const jsonError = (status: number, error: string, extra: Record<string, unknown> = {}, cacheSeconds = 0): Response =>
  new Response(JSON.stringify({ error, ...extra }), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": cacheSeconds > 0 ? `public, max-age=${cacheSeconds}` : "no-store",
      "access-control-allow-origin": "*",
    },
  });

export const maxAge = (seconds: number): string => `public, max-age=${Math.max(0, Math.round(seconds))}`;
export const IMMUTABLE = "public, max-age=1209600, immutable";
