import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";

/** What one archive upload is: where it goes, how it is described, and since when it is due. */
export interface JournalItem {
  kind: "manifest" | "poster" | "init" | "segment";
  recordingId: string;
  streamId: string;
  /** Null for files at the recording's root (manifest.json, poster.jpg). */
  rendition: string | null;
  /** File name under the rendition (`init-<v>.mp4`, `seg-<msn>.m4s`) or the root. */
  file: string;
  contentType: string;
  /** Extra request headers (a segment's duration, PROGRAM-DATE-TIME, discontinuity, init version). */
  headers: Record<string, string>;
  /** When the item became due (segment complete, init arrived), epoch ms: the archive lag starts here. */
  dueAtMs: number;
}

export interface JournalEntry extends JournalItem {
  /** Position in the journal: items are uploaded in this order, as far as ordering matters. */
  seq: number;
  size: number;
}

const MAGIC = new Uint8Array([0x43, 0x41, 0x4a, 0x31]); // "CAJ1"
const FILE_RE = /^(\d{12})\.job$/;
const KINDS: ReadonlySet<string> = new Set(["manifest", "poster", "init", "segment"]);

const fileName = (seq: number): string => `${String(seq).padStart(12, "0")}.job`;

const isItem = (v: unknown): v is JournalItem => {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    KINDS.has(o.kind as string) &&
    typeof o.recordingId === "string" &&
    typeof o.streamId === "string" &&
    (o.rendition === null || typeof o.rendition === "string") &&
    typeof o.file === "string" &&
    typeof o.contentType === "string" &&
    typeof o.headers === "object" &&
    o.headers !== null &&
    typeof o.dueAtMs === "number"
  );
};

/**
 * The archive's write-ahead journal: one file per pending upload in one directory
 * (`<seq>.job`: magic, header length, JSON header, the bytes), written to a temporary name, synced
 * and renamed, so an entry either exists whole or not at all. An entry is written before the
 * origin acknowledges what it archives and removed only after the edge answered 2xx; on start the
 * remaining entries are read back in order (resumable).
 */
export class ArchiveJournal {
  private nextSeq = 1;
  private opened = false;

  constructor(
    readonly dir: string,
    /** fsync each entry before it counts as written (survives a machine crash, not only a process kill). */
    private readonly sync = true,
  ) {}

  /** Creates the directory, drops half-written temporary files, and returns the entries in order. */
  async open(onCorrupt: (file: string, problem: string) => void = () => {}): Promise<JournalEntry[]> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const entries: JournalEntry[] = [];
    for (const name of names) {
      if (name.endsWith(".tmp")) {
        await rm(path.join(this.dir, name), { force: true });
        continue;
      }
      const m = FILE_RE.exec(name);
      if (!m) continue;
      const seq = Number(m[1]);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      try {
        const { item, size } = await this.readHeader(name);
        entries.push({ ...item, seq, size });
      } catch (err) {
        onCorrupt(name, (err as Error).message);
        await rename(path.join(this.dir, name), path.join(this.dir, `${name}.corrupt`)).catch(() => undefined);
      }
    }
    this.opened = true;
    return entries.sort((a, b) => a.seq - b.seq);
  }

  /** Writes an entry durably; resolves once it would survive a crash (then the caller may acknowledge). */
  async append(item: JournalItem, bytes: Uint8Array): Promise<JournalEntry> {
    if (!this.opened) throw new Error("archive journal is not open");
    const seq = this.nextSeq++;
    const header = new TextEncoder().encode(JSON.stringify(item));
    const lengths = new Uint8Array(4);
    new DataView(lengths.buffer).setUint32(0, header.byteLength);
    const final = path.join(this.dir, fileName(seq));
    const tmp = `${final}.tmp`;
    const fh = await open(tmp, "w");
    try {
      await fh.writev([MAGIC, lengths, header, bytes]);
      if (this.sync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    return { ...item, seq, size: bytes.byteLength };
  }

  /** The bytes of an entry. */
  async body(entry: JournalEntry): Promise<Uint8Array> {
    const buf = await readFile(path.join(this.dir, fileName(entry.seq)));
    const headerLength = new DataView(buf.buffer, buf.byteOffset + 4, 4).getUint32(0);
    return new Uint8Array(buf.buffer, buf.byteOffset + 8 + headerLength, buf.byteLength - 8 - headerLength);
  }

  /** Removes an entry (its upload is done, or refused for good). */
  async remove(entry: JournalEntry): Promise<void> {
    await rm(path.join(this.dir, fileName(entry.seq)), { force: true });
  }

  private async readHeader(name: string): Promise<{ item: JournalItem; size: number }> {
    const fh = await open(path.join(this.dir, name), "r");
    try {
      const { size } = await fh.stat();
      const head = new Uint8Array(8);
      const { bytesRead } = await fh.read(head, 0, 8, 0);
      if (bytesRead !== 8 || !MAGIC.every((b, i) => head[i] === b)) throw new Error("not a journal entry");
      const headerLength = new DataView(head.buffer).getUint32(4);
      if (headerLength > 64 * 1024 || 8 + headerLength > size) throw new Error("truncated header");
      const header = new Uint8Array(headerLength);
      await fh.read(header, 0, headerLength, 8);
      const item: unknown = JSON.parse(new TextDecoder().decode(header));
      if (!isItem(item)) throw new Error("header is not a journal item");
      return { item, size: size - 8 - headerLength };
    } finally {
      await fh.close();
    }
  }
}
