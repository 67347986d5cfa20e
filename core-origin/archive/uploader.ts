import type { JournalEntry } from "./journal.ts";

/** The edge's answer to one upload; a network error or timeout is thrown instead. */
export interface SendResult {
  status: number;
  /** The start of the response body, for the log line of a failure. */
  detail: string;
}

export type UploadOutcome = { kind: "uploaded"; status: number; ms: number } | { kind: "rejected"; status: number; detail: string };

export interface UploaderOptions {
  /** Uploads in flight at once (default 2). */
  concurrency?: number;
  send(entry: JournalEntry): Promise<SendResult>;
  /** The upload is settled (2xx, or refused for good); the journal entry can go. */
  settled(entry: JournalEntry, outcome: UploadOutcome): Promise<void>;
  /** One failed attempt that will be retried after `retryInMs`. */
  failed(entry: JournalEntry, attempt: number, problem: string, retryInMs: number): void;
  /** First retry delay and the cap (default 500 ms, 30 s); doubled per attempt with ±20 % jitter. */
  backoff?: { baseMs: number; maxMs: number };
  now?: () => number;
}

/**
 * Statuses the edge will answer again however often it is asked (bad input, unknown or finalised
 * recording, too large, different bytes under an immutable key): the upload is dropped with an
 * error. Everything else (network errors, timeouts, 5xx, 401 while secrets are rotated, 408, 429)
 * is retried with backoff for as long as it takes.
 */
export const isPermanent = (status: number): boolean => status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429;

interface Job {
  entry: JournalEntry;
  attempts: number;
  notBefore: number;
  running: boolean;
}

/**
 * Uploads journal entries with bounded concurrency, in journal order as far as it matters: a
 * recording's manifest.json holds back everything journaled after it, and an init holds back the
 * later uploads of its rendition (so R2 never has a segment whose init is not there yet), while
 * independent uploads overtake a failing one. Failures are retried with exponential backoff.
 */
export class ArchiveUploader {
  private readonly jobs: Job[] = [];
  private readonly concurrency: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly now: () => number;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: UploaderOptions) {
    this.concurrency = Math.max(1, o.concurrency ?? 2);
    this.backoff = o.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.now = o.now ?? Date.now;
  }

  add(entry: JournalEntry): void {
    // Entries arrive in journal order almost always; keep the list sorted regardless.
    let i = this.jobs.length;
    while (i > 0 && this.jobs[i - 1]!.entry.seq > entry.seq) i--;
    this.jobs.splice(i, 0, { entry, attempts: 0, notBefore: 0, running: false });
    this.pump();
  }

  /** Uploads not yet settled (queued, waiting to retry or in flight), for one recording or all. */
  pending(recordingId?: string): number {
    return recordingId === undefined ? this.jobs.length : this.jobs.filter((j) => j.entry.recordingId === recordingId).length;
  }

  /** Resolves when nothing is pending (tests, benchmarks). */
  idle(): Promise<void> {
    if (this.jobs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops starting uploads; what is in flight finishes on its own. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private pump(): void {
    if (this.closed) return;
    const now = this.now();
    let wakeAt = Infinity;
    // One pass in journal order, remembering the barriers met so far: a recording's pending
    // manifest.json holds back all of its later jobs, a pending init the later jobs of its rendition.
    const manifests = new Set<string>();
    const inits = new Set<string>();
    for (let i = 0; i < this.jobs.length && this.inFlight < this.concurrency; i++) {
      const job = this.jobs[i]!;
      const e = job.entry;
      const blocked = manifests.has(e.recordingId) || (e.rendition !== null && inits.has(`${e.recordingId}/${e.rendition}`));
      if (e.kind === "manifest") manifests.add(e.recordingId);
      if (e.kind === "init") inits.add(`${e.recordingId}/${e.rendition}`);
      if (job.running || blocked) continue;
      if (job.notBefore > now) {
        wakeAt = Math.min(wakeAt, job.notBefore);
        continue;
      }
      void this.run(job);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (wakeAt < Infinity && this.inFlight < this.concurrency) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(1, wakeAt - now));
    }
  }

  private async run(job: Job): Promise<void> {
    job.running = true;
    this.inFlight++;
    const started = this.now();
    let outcome: UploadOutcome | null = null;
    let problem = "";
    try {
      const res = await this.o.send(job.entry);
      if (res.status >= 200 && res.status < 300) outcome = { kind: "uploaded", status: res.status, ms: this.now() - started };
      else if (isPermanent(res.status)) outcome = { kind: "rejected", status: res.status, detail: res.detail };
      else problem = `HTTP ${res.status}: ${res.detail}`;
    } catch (err) {
      problem = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    if (outcome) {
      try {
        await this.o.settled(job.entry, outcome);
        this.jobs.splice(this.jobs.indexOf(job), 1);
      } catch (err) {
        // The journal entry could not be removed: keep the job and try the whole upload again (idempotent).
        problem = `settling failed: ${(err as Error).message}`;
        outcome = null;
      }
    }
    if (!outcome) {
      job.attempts++;
      const base = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (job.attempts - 1));
      const delay = Math.round(base * (0.8 + Math.random() * 0.4));
      job.notBefore = this.now() + delay;
      this.o.failed(job.entry, job.attempts, problem, delay);
    }
    job.running = false;
    this.inFlight--;
    if (this.jobs.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
    this.pump();
  }
}
