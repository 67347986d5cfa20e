/**
 * The one error type this package throws for malformed input, so callers (the origin answering
 * HTTP 400, the transcoder killing a broken ffmpeg) can tell bad bytes from bugs.
 */
export class Mp4FormatError extends Error {
  override readonly name = "Mp4FormatError";

  /** Byte offset into the input where the problem was noticed, when known. */
  readonly offset: number | undefined;

  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.offset = offset;
  }
}
