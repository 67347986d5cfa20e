/**
 * Every JSON error of Cascade's HTTP APIs (edge, core-origin, gpu-transcoder) carries one of these
 * codes next to its human `error` message: clients branch on the code, people read the message.
 * Most follow from the status; a route names a narrower one where clients need to tell cases apart.
 */
export const ERROR_CODES = {
  invalidRequest: "invalid_request",
  invalidFields: "invalid_fields",
  invalidBody: "invalid_body",
  unauthorized: "unauthorized",
  forbidden: "forbidden",
  notFound: "not_found",
  methodNotAllowed: "method_not_allowed",
  conflict: "conflict",
  gone: "gone",
  bodyTooLarge: "body_too_large",
  rangeNotSatisfiable: "range_not_satisfiable",
  upgradeRequired: "upgrade_required",
  rateLimited: "rate_limited",
  internal: "internal",
  upstreamFailed: "upstream_failed",
  unavailable: "unavailable",
  upstreamTimeout: "upstream_timeout",
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

const BY_STATUS: Record<number, ErrorCode> = {
  400: ERROR_CODES.invalidRequest,
  401: ERROR_CODES.unauthorized,
  403: ERROR_CODES.forbidden,
  404: ERROR_CODES.notFound,
  405: ERROR_CODES.methodNotAllowed,
  409: ERROR_CODES.conflict,
  410: ERROR_CODES.gone,
  413: ERROR_CODES.bodyTooLarge,
  416: ERROR_CODES.rangeNotSatisfiable,
  426: ERROR_CODES.upgradeRequired,
  429: ERROR_CODES.rateLimited,
  500: ERROR_CODES.internal,
  502: ERROR_CODES.upstreamFailed,
  503: ERROR_CODES.unavailable,
  504: ERROR_CODES.upstreamTimeout,
};

/** The code an error status means when the route names no narrower one. */
export const errorCodeOf = (status: number): ErrorCode => BY_STATUS[status] ?? (status >= 500 ? ERROR_CODES.internal : ERROR_CODES.invalidRequest);

export const isErrorCode = (value: unknown): value is ErrorCode => typeof value === "string" && (Object.values(ERROR_CODES) as string[]).includes(value);
