import { readFileSync } from "node:fs";
import { timingSafeEqual, createHash } from "node:crypto";
import { isStreamId } from "../../shared/ids.ts";
import type { AuthResult, PublishAuthorizer } from "../ingest/types.ts";

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/**
 * The local key list: stream id → key, from `CASCADE_STREAM_KEYS` ("id=key,id2=key2") or a JSON
 * file (`{"id": "key"}`). The whole authorizer without a control plane; with one, the list is checked
 * first and the control plane decides every other key (choose-authorizer.ts).
 * Every entry is compared in constant time, so neither a key nor its position leaks through timing.
 */
export class LocalKeyList implements PublishAuthorizer {
  private readonly entries: Array<{ streamId: string; key: Buffer }>;

  constructor(keys: Record<string, string>) {
    this.entries = Object.entries(keys).map(([streamId, key]) => {
      if (!isStreamId(streamId)) throw new Error(`invalid stream id "${streamId}" in the key list`);
      if (key.length < 8) throw new Error(`stream key for "${streamId}" is shorter than 8 characters`);
      return { streamId, key: digest(key) };
    });
  }

  static fromSpec(spec: string): LocalKeyList {
    const keys: Record<string, string> = {};
    for (const item of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
      const eq = item.indexOf("=");
      if (eq <= 0) throw new Error(`CASCADE_STREAM_KEYS entry must be id=key`);
      keys[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return new LocalKeyList(keys);
  }

  static fromFile(file: string): LocalKeyList {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`${file} must hold a JSON object of id → key`);
    for (const v of Object.values(parsed)) if (typeof v !== "string") throw new Error(`${file}: every key must be a string`);
    return new LocalKeyList(parsed as Record<string, string>);
  }

  get size(): number {
    return this.entries.length;
  }

  async authorize(req: { app: string; key: string }): Promise<AuthResult> {
    const presented = digest(req.key);
    let match: string | null = null;
    for (const e of this.entries) if (timingSafeEqual(e.key, presented) && match === null) match = e.streamId;
    return match ? { ok: true, streamId: match } : { ok: false, reason: "unknown stream key" };
  }
}
