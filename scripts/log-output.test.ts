import { describe, expect, it } from "vitest";
import { chooseLogFormat, createLineRelay, formatLogLine, type LineFormatOptions } from "./log-output.ts";

// 2026-01-02 03:04:05.678 local time, so the expected clock does not depend on the machine's zone.
const T = new Date(2026, 0, 2, 3, 4, 5, 678).getTime();
const pretty: LineFormatOptions = { format: "pretty", color: false, now: () => T };
const json: LineFormatOptions = { format: "json", color: false, now: () => T };
const pinoLine = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, time: T, pid: 42, hostname: "h", name: "core-origin", ...fields });

describe("chooseLogFormat", () => {
  it("is pretty on a terminal", () => expect(chooseLogFormat([], true)).toBe("pretty"));
  it("is JSON when stdout is not a terminal", () => {
    expect(chooseLogFormat([], false)).toBe("json");
    expect(chooseLogFormat([], undefined)).toBe("json");
  });
  it("is JSON with --json, even on a terminal", () => expect(chooseLogFormat(["--edges", "2", "--json"], true)).toBe("json"));
});

describe("formatLogLine, pretty", () => {
  it("turns a pino record into one line: time, level, source, message, fields", () => {
    const out = formatLogLine("origin", pinoLine({ msg: "core-origin listening", event: "listen", port: 8080, url: "http://127.0.0.1:8080" }), pretty);
    expect(out).toBe("03:04:05.678 INFO  origin     core-origin listening event=listen port=8080 url=http://127.0.0.1:8080");
  });

  it("keeps an error on the same line (type and message, no stack)", () => {
    const out = formatLogLine("transcoder", pinoLine({ level: 50, msg: "push failed", err: { type: "TypeError", message: "fetch failed", stack: "TypeError: fetch failed\n    at x" } }), pretty);
    expect(out).not.toContain("\n");
    expect(out).toContain("ERROR transcoder push failed");
    expect(out).toContain('err="TypeError: fetch failed"');
  });

  it("quotes values with spaces or quotes, and writes objects as JSON", () => {
    const out = formatLogLine("origin", pinoLine({ msg: "m", title: 'a "b" c', ids: [1, 2], nested: { a: 1 } }), pretty);
    expect(out).toContain(String.raw`title="a \"b\" c"`);
    expect(out).toContain('ids=[1,2] nested={"a":1}');
  });

  it("uses `event` as the message of the Worker's plain JSON lines, at their level or info", () => {
    expect(formatLogLine("edge-1", JSON.stringify({ event: "directory_db_error", error: "no such table" }), pretty)).toBe(
      '03:04:05.678 INFO  edge-1     directory_db_error error="no such table"',
    );
    expect(formatLogLine("edge-1", JSON.stringify({ level: "warn", event: "x" }), pretty)).toContain("WARN  edge-1     x");
  });

  it("passes plain text through with time and source", () => {
    expect(formatLogLine("demo", "[flv @ 0x1] Failed to update header", pretty)).toBe("03:04:05.678       demo       [flv @ 0x1] Failed to update header");
    expect(formatLogLine("edge-1", "{not json", pretty)).toBe("03:04:05.678       edge-1     {not json");
  });

  it("colours the level and dims the fields when asked, and not otherwise", () => {
    const line = pinoLine({ level: 40, msg: "slow", stream: "demo" });
    const coloured = formatLogLine("origin", line, { ...pretty, color: true });
    expect(coloured).toContain("\x1b[33mWARN ");
    expect(coloured).toContain("\x1b[90mstream=demo\x1b[0m");
    expect(formatLogLine("origin", line, pretty)).not.toContain("\x1b[");
  });
});

describe("formatLogLine, json", () => {
  it("keeps a child's record whole and names its source", () => {
    const line = pinoLine({ msg: "hello", port: 8080 });
    expect(JSON.parse(formatLogLine("origin", line, json))).toEqual({ proc: "origin", ...JSON.parse(line) });
  });

  it("keeps a record's own `source` field (the transcoder logs one)", () => {
    const line = pinoLine({ msg: "ladder planned", source: { width: 1280, height: 720 } });
    expect(JSON.parse(formatLogLine("transcoder", line, json))).toMatchObject({ proc: "transcoder", source: { width: 1280, height: 720 } });
    expect(formatLogLine("transcoder", line, pretty)).toContain('source={"width":1280,"height":720}');
  });

  it("wraps plain text into a record", () => {
    expect(JSON.parse(formatLogLine("demo", "some ffmpeg text", json))).toEqual({ proc: "demo", level: 30, time: T, msg: "some ffmpeg text" });
  });

  it("drops wrangler's colour codes from text lines (and from pretty lines without colour)", () => {
    const warning = "\x1b[33m▲ \x1b[43;33m[\x1b[43;30mWARNING\x1b[43;33m]\x1b[0m \x1b[1mScheduled Workers\x1b[0m";
    expect(JSON.parse(formatLogLine("edge-1", warning, json)).msg).toBe("▲ [WARNING] Scheduled Workers");
    expect(formatLogLine("edge-1", warning, pretty)).toBe("03:04:05.678 WARN  edge-1     ▲ [WARNING] Scheduled Workers");
  });

  it("gives wrangler's error and warning lines their level", () => {
    expect(JSON.parse(formatLogLine("edge-1", "✘ [ERROR] Build failed", json)).level).toBe(50);
    expect(JSON.parse(formatLogLine("edge-1", "▲ [WARNING] something", json)).level).toBe(40);
    expect(formatLogLine("edge-1", "✘ [ERROR] Build failed", pretty)).toBe("03:04:05.678 ERROR edge-1     ✘ [ERROR] Build failed");
  });
});

describe("createLineRelay", () => {
  it("joins a line split across chunks, splits chunks holding several lines, and skips blank ones", () => {
    const out: string[] = [];
    const relay = createLineRelay("origin", json, (t) => out.push(t));
    const line = pinoLine({ msg: "one" });
    relay.push(line.slice(0, 10));
    expect(out).toEqual([]);
    relay.push(`${line.slice(10)}\n\r\n${pinoLine({ msg: "two" })}\r\npartial`);
    expect(out.map((t) => JSON.parse(t).msg)).toEqual(["one", "two"]);
    expect(out.every((t) => t.endsWith("}\n"))).toBe(true);
    relay.flush();
    expect(JSON.parse(out[2]!)).toMatchObject({ proc: "origin", msg: "partial" });
  });
});
