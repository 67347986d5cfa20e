/** The one JSON error of Cascade's HTTP APIs: `{ error, code, ...extra }` (shared/errors.ts for the codes). */
import { errorCodeOf, type ErrorCode } from "../errors.ts";

/** More fields of the body (`fields`, `detail`, `limit` …); `code` names a narrower code than the status's own. */
export type JsonErrorExtra = { code?: ErrorCode } & Record<string, unknown>;

/** The body every JSON error has: the message people read and the code clients branch on. */
export const jsonErrorBody = (status: number, error: string, extra: JsonErrorExtra = {}): Record<string, unknown> => {
  const { code, ...rest } = extra;
  return { error, code: code ?? errorCodeOf(status), ...rest };
};

/** A JSON error response naming the problem; `content-type` and `cache-control: no-store` unless `headers` say otherwise. */
export const jsonError = (status: number, error: string, extra: JsonErrorExtra = {}, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(jsonErrorBody(status, error, extra)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
