/**
 * How `npm start` shows its children's output. The children (core-origin, the transcoder, the edges'
 * wrangler, the demo's ffmpeg) write to pipes, so they never see a terminal and always log pino JSON
 * lines (or plain text); the decision is made here, once, for what reaches the user: on a terminal one
 * coloured, human-readable line per record; JSON lines when stdout is not a terminal or with `--json`.
 */

export type LogFormat = "pretty" | "json";

/** `--json` forces JSON; otherwise pretty only when stdout is a terminal. */
export const chooseLogFormat = (argv: readonly string[], stdoutIsTTY: boolean | undefined): LogFormat =>
  argv.includes("--json") || !stdoutIsTTY ? "json" : "pretty";

export interface LineFormatOptions {
  format: LogFormat;
  /** ANSI colours (pretty only). */
  color: boolean;
  /** Clock for lines that carry no `time` (plain text, the Worker's own JSON). */
  now?: () => number;
}

type LogRecord = Record<string, unknown>;

const LEVELS: Record<number, { label: string; color: string }> = {
  10: { label: "TRACE", color: "\x1b[90m" },
  20: { label: "DEBUG", color: "\x1b[34m" },
  30: { label: "INFO", color: "\x1b[32m" },
  40: { label: "WARN", color: "\x1b[33m" },
  50: { label: "ERROR", color: "\x1b[31m" },
  60: { label: "FATAL", color: "\x1b[35m" },
};
const LEVEL_BY_NAME: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, warning: 40, error: 50, fatal: 60 };
const RESET = "\x1b[0m";
const DIM = "\x1b[90m";
const CYAN = "\x1b[36m";
/** pino's own bookkeeping (the logger's `name` included: the process column says who wrote the line). */
const HIDDEN = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);
/** The key that names the child in JSON output; no Cascade log record uses it (some use `source`). */
export const PROCESS_KEY = "proc";
/** wrangler colours its own text lines. */
const ESC = "\x1b";
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, "g");

/** wrangler marks its own text lines `✘ [ERROR]` / `▲ [WARNING]`; everything else plain is info. */
const textLevel = (plain: string): number => (/\[ERROR\]/.test(plain) ? 50 : /\[WARNING\]/.test(plain) ? 40 : 30);

const parseRecord = (line: string): LogRecord | undefined => {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as LogRecord) : undefined;
  } catch {
    return undefined;
  }
};

const levelOf = (record: LogRecord): number => {
  const { level } = record;
  if (typeof level === "number") return level;
  if (typeof level === "string") return LEVEL_BY_NAME[level.toLowerCase()] ?? 30;
  return 30;
};

const clock = (ms: number): string => {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};

/** `key=value`, quoted only when the value needs it, so the line stays one line. */
const field = (key: string, value: unknown): string => {
  if (value instanceof Object && typeof (value as { message?: unknown }).message === "string") {
    const err = value as { type?: unknown; message: string };
    return `${key}=${JSON.stringify(typeof err.type === "string" ? `${err.type}: ${err.message}` : err.message)}`;
  }
  if (typeof value === "string") return `${key}=${/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`;
  return `${key}=${JSON.stringify(value)}`;
};

const prettyLine = (source: string, line: string, o: LineFormatOptions): string => {
  const paint = (code: string, text: string) => (o.color ? `${code}${text}${RESET}` : text);
  const record = parseRecord(line);
  const now = o.now ?? Date.now;
  const time = paint(DIM, clock(record && typeof record.time === "number" ? record.time : now()));
  const who = paint(CYAN, source.padEnd(10));
  if (!record) {
    const level = textLevel(line.replace(ANSI, ""));
    const label = level === 30 ? "" : LEVELS[level]!.label;
    return `${time} ${paint(LEVELS[level]!.color, label.padEnd(5))} ${who} ${o.color ? line : line.replace(ANSI, "")}`;
  }
  const level = levelOf(record);
  const { label, color } = LEVELS[level] ?? { label: String(level), color: "" };
  // A pino record says what happened in `msg`; the Worker's own JSON lines name an `event` instead.
  const msg = typeof record.msg === "string" ? record.msg : typeof record.event === "string" ? record.event : "";
  const rest = Object.entries(record)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined && !(k === "event" && v === msg))
    .map(([k, v]) => field(k, v));
  const text = level >= 40 ? paint(color, msg) : msg;
  return [time, paint(color, label.padEnd(5)), who, text, ...(rest.length ? [paint(DIM, rest.join(" "))] : [])].join(" ");
};

const jsonLine = (source: string, line: string, o: LineFormatOptions): string => {
  const record = parseRecord(line);
  if (record) return JSON.stringify({ [PROCESS_KEY]: source, ...record });
  const msg = line.replace(ANSI, "");
  return JSON.stringify({ [PROCESS_KEY]: source, level: textLevel(msg), time: (o.now ?? Date.now)(), msg });
};

/** One output line (no newline) for one line a child wrote. */
export const formatLogLine = (source: string, line: string, o: LineFormatOptions): string =>
  o.format === "json" ? jsonLine(source, line, o) : prettyLine(source, line, o);

/**
 * Splits a child's output stream into lines (a line may arrive in several chunks, or several in
 * one) and writes each formatted. `flush()` writes a last line that had no newline.
 */
export const createLineRelay = (source: string, o: LineFormatOptions, write: (text: string) => void) => {
  let pending = "";
  const emit = (line: string) => {
    const trimmed = line.replace(/\r$/, "");
    if (trimmed.trim()) write(`${formatLogLine(source, trimmed, o)}\n`);
  };
  return {
    push(chunk: Buffer | string): void {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      lines.forEach(emit);
    },
    flush(): void {
      if (pending) emit(pending);
      pending = "";
    },
  };
};
