/**
 * Reads ffmpeg's `-progress` key=value stream: the frames it dropped, and the instantaneous speed (output media
 * time over wall time between reports); ffmpeg's own `speed=` is an average since start and reacts
 * too slowly to tell that the ladder stopped keeping up.
 */
export class ProgressMonitor {
  private buffer = "";
  private lastOutUs: number | null = null;
  private lastWallMs = 0;
  private slowSinceMs: number | null = null;
  speed = 1;
  outTimeSeconds = 0;
  /** ffmpeg's `drop_frames`: frames it dropped since this run started. */
  droppedFrames = 0;

  constructor(
    private readonly minSpeed: number,
    private readonly slowPeriodMs: number,
    private readonly onTooSlow: (speed: number, forMs: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  feed(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      const m = /^out_time_(?:us|ms)=(\d+)$/.exec(line);
      if (m) this.sample(Number(m[1]));
      const drops = /^drop_frames=(\d+)$/.exec(line);
      if (drops) this.droppedFrames = Math.max(this.droppedFrames, Number(drops[1]));
    }
  }

  private sample(outUs: number): void {
    const wall = this.now();
    this.outTimeSeconds = outUs / 1e6;
    if (this.lastOutUs !== null && wall - this.lastWallMs >= 400) {
      this.speed = (outUs - this.lastOutUs) / 1000 / (wall - this.lastWallMs);
      this.lastOutUs = outUs;
      this.lastWallMs = wall;
      if (this.speed < this.minSpeed) {
        this.slowSinceMs ??= wall;
        if (wall - this.slowSinceMs >= this.slowPeriodMs) {
          this.onTooSlow(this.speed, wall - this.slowSinceMs);
          this.slowSinceMs = null;
        }
      } else {
        this.slowSinceMs = null;
      }
    } else if (this.lastOutUs === null) {
      this.lastOutUs = outUs;
      this.lastWallMs = wall;
    }
  }
}
