import { describe, expect, it } from "vitest";
import { validateManifest, type StreamManifest } from "../../shared/push-protocol.ts";
import { manifestOptionFields, parseStreamOptions } from "./stream-options.ts";

const BASE: StreamManifest = {
  targetDuration: 2,
  partTarget: 0.5,
  renditions: [{ name: "360p", type: "video", codecs: "avc1.4d401e", bitrate: 800_000, width: 640, height: 360, fps: 30 }],
};

describe("the saga's stream options on the node (POST /control/streams/:id/expect)", () => {
  it("recording streams: {dvr_window, recording_id, record: true} → dvrWindowS and recording mode record", () => {
    const parsed = parseStreamOptions({ dvr_window: 7200, recording_id: "abcdefgh2345", record: true });
    expect(parsed).toEqual({ ok: true, options: { dvrWindowS: 7200, recording: { id: "abcdefgh2345", mode: "record" } } });
    const fields = manifestOptionFields(parsed.ok ? parsed.options : null);
    expect(fields).toEqual({ dvrWindowS: 7200, recording: { id: "abcdefgh2345", mode: "record" } });
    expect(validateManifest({ ...BASE, ...fields })).toEqual([]);
  });

  it("DVR-only streams keep the id (for a later convert) with mode dvr; no recording at all sends none", () => {
    expect(parseStreamOptions({ dvr_window: 600, recording_id: "abcdefgh2345", record: false })).toEqual({ ok: true, options: { dvrWindowS: 600, recording: { id: "abcdefgh2345", mode: "dvr" } } });
    const none = parseStreamOptions({ dvr_window: 0, recording_id: null, record: false });
    expect(none).toEqual({ ok: true, options: { dvrWindowS: 0, recording: null } });
    expect(manifestOptionFields(none.ok ? none.options : null)).toEqual({ dvrWindowS: 0 });
  });

  it("no body (an older control plane) and local-key streams add nothing to the manifest", () => {
    expect(parseStreamOptions(null)).toEqual({ ok: true, options: { dvrWindowS: null, recording: null } });
    expect(parseStreamOptions({})).toEqual({ ok: true, options: { dvrWindowS: null, recording: null } });
    expect(manifestOptionFields(null)).toEqual({});
    expect(manifestOptionFields({ dvrWindowS: null, recording: null })).toEqual({});
    // Fields the node does not know yet are ignored.
    expect(parseStreamOptions({ dvr_window: 60, latency: "low" })).toMatchObject({ ok: true });
  });

  it("refuses what would put a bad value into a manifest", () => {
    const problems = (body: unknown) => {
      const r = parseStreamOptions(body);
      return r.ok ? [] : r.problems;
    };
    expect(problems([])).toEqual(["body must be a JSON object"]);
    expect(problems({ dvr_window: -1 })).toEqual(["dvr_window must be an integer from 0 to 14400"]);
    expect(problems({ dvr_window: 14_401 })).toEqual(["dvr_window must be an integer from 0 to 14400"]);
    expect(problems({ dvr_window: "7200" })).toEqual(["dvr_window must be an integer from 0 to 14400"]);
    expect(problems({ recording_id: "../../x" })).toEqual(["recording_id is invalid"]);
    expect(problems({ recording_id: "abcdefgh2345", record: "yes" })).toEqual(["record must be true or false"]);
    expect(problems({ record: true })).toEqual(["record needs a recording_id"]);
  });
});
