/** A strict-enough playlist parser: used by tests, benchmarks and the edge to read what the origin served. */

export type Attributes = Record<string, string>;

/** Parses an attribute list (`A=1,B="x,y",C=YES`); quoted values are unquoted. */
export const parseAttributes = (text: string): Attributes => {
  const out: Attributes = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === "") break;
    const v = m[2]!;
    out[m[1]!] = v.startsWith('"') ? v.slice(1, -1) : v;
  }
  return out;
};

export interface ParsedPart {
  uri: string;
  duration: number;
  independent: boolean;
}

export interface ParsedSegment {
  msn: number;
  uri?: string;
  duration?: number;
  programDateTime?: string;
  discontinuity: boolean;
  map?: string;
  gap?: boolean;
  parts: ParsedPart[];
}

export interface ParsedMediaPlaylist {
  version?: number;
  targetDuration?: number;
  partTarget?: number;
  serverControl: Attributes;
  mediaSequence: number;
  discontinuitySequence: number;
  skippedSegments: number;
  segments: ParsedSegment[];
  preloadHints: Attributes[];
  renditionReports: Attributes[];
  endList: boolean;
  /** Every tag name seen, in order (for checks such as "appears once"). */
  tags: string[];
}

const tagOf = (line: string): [string, string] => {
  const i = line.indexOf(":");
  return i < 0 ? [line, ""] : [line.slice(0, i), line.slice(i + 1)];
};

export const parseMediaPlaylist = (text: string): ParsedMediaPlaylist => {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines[0] !== "#EXTM3U") throw new Error("playlist does not start with #EXTM3U");
  const p: ParsedMediaPlaylist = {
    serverControl: {},
    mediaSequence: 0,
    discontinuitySequence: 0,
    skippedSegments: 0,
    segments: [],
    preloadHints: [],
    renditionReports: [],
    endList: false,
    tags: [],
  };
  const st: { pending: ParsedSegment | null; map?: string } = { pending: null };
  const current = (): ParsedSegment => {
    st.pending ??= {
      msn: p.mediaSequence + p.skippedSegments + p.segments.length,
      discontinuity: false,
      parts: [],
      ...(st.map ? { map: st.map } : {}),
    };
    return st.pending;
  };
  for (const line of lines.slice(1)) {
    if (!line.startsWith("#")) {
      const seg = current();
      seg.uri = line.trim();
      p.segments.push(seg);
      st.pending = null;
      continue;
    }
    const [tag, value] = tagOf(line);
    p.tags.push(tag);
    switch (tag) {
      case "#EXT-X-VERSION": p.version = Number(value); break;
      case "#EXT-X-TARGETDURATION": p.targetDuration = Number(value); break;
      case "#EXT-X-PART-INF": p.partTarget = Number(parseAttributes(value)["PART-TARGET"]); break;
      case "#EXT-X-SERVER-CONTROL": p.serverControl = parseAttributes(value); break;
      case "#EXT-X-MEDIA-SEQUENCE": p.mediaSequence = Number(value); break;
      case "#EXT-X-DISCONTINUITY-SEQUENCE": p.discontinuitySequence = Number(value); break;
      case "#EXT-X-SKIP": p.skippedSegments = Number(parseAttributes(value)["SKIPPED-SEGMENTS"]); break;
      case "#EXT-X-MAP": st.map = parseAttributes(value)["URI"]; if (st.pending) st.pending.map = st.map; break;
      case "#EXT-X-DISCONTINUITY": current().discontinuity = true; break;
      case "#EXT-X-GAP": current().gap = true; break;
      case "#EXT-X-PROGRAM-DATE-TIME": current().programDateTime = value; break;
      case "#EXTINF": current().duration = Number(value.split(",")[0]); break;
      case "#EXT-X-PART": {
        const a = parseAttributes(value);
        current().parts.push({ uri: a["URI"] ?? "", duration: Number(a["DURATION"]), independent: a["INDEPENDENT"] === "YES" });
        break;
      }
      case "#EXT-X-PRELOAD-HINT": p.preloadHints.push(parseAttributes(value)); break;
      case "#EXT-X-RENDITION-REPORT": p.renditionReports.push(parseAttributes(value)); break;
      case "#EXT-X-ENDLIST": p.endList = true; break;
      default: break;
    }
  }
  if (st.pending) p.segments.push(st.pending);
  return p;
};

export interface ParsedMultivariant {
  tags: string[];
  media: Attributes[];
  variants: Array<{ attributes: Attributes; uri: string }>;
}

export const parseMultivariantPlaylist = (text: string): ParsedMultivariant => {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines[0] !== "#EXTM3U") throw new Error("playlist does not start with #EXTM3U");
  const out: ParsedMultivariant = { tags: [], media: [], variants: [] };
  let inf: Attributes | null = null;
  for (const line of lines.slice(1)) {
    if (!line.startsWith("#")) {
      if (inf) out.variants.push({ attributes: inf, uri: line.trim() });
      inf = null;
      continue;
    }
    const [tag, value] = tagOf(line);
    out.tags.push(tag);
    if (tag === "#EXT-X-MEDIA") out.media.push(parseAttributes(value));
    if (tag === "#EXT-X-STREAM-INF") inf = parseAttributes(value);
  }
  return out;
};
