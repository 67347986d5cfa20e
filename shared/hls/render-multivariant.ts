import type { MultivariantPlaylist } from "./types.ts";

export const renderMultivariantPlaylist = (p: MultivariantPlaylist): string => {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:6"];
  if (p.independentSegments) lines.push("#EXT-X-INDEPENDENT-SEGMENTS");
  for (const a of p.audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${a.groupId}",NAME="${a.name}",LANGUAGE="${a.language}",` +
        `DEFAULT=${a.isDefault ? "YES" : "NO"},AUTOSELECT=YES,CHANNELS="${a.channels}",URI="${a.uri}"`,
    );
  }
  for (const v of p.variants) {
    const attrs = [
      `BANDWIDTH=${Math.round(v.bandwidth)}`,
      `AVERAGE-BANDWIDTH=${Math.round(v.averageBandwidth)}`,
      `CODECS="${v.codecs}"`,
      `RESOLUTION=${v.width}x${v.height}`,
      `FRAME-RATE=${v.frameRate.toFixed(3)}`,
    ];
    if (v.audioGroup) attrs.push(`AUDIO="${v.audioGroup}"`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(",")}`, v.uri);
  }
  return `${lines.join("\n")}\n`;
};
