/** A JSON error body naming the problem; errors are never cached by browsers. */
export const jsonError = (status: number, error: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify({ error, ...extra }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
