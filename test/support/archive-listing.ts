import { ARCHIVE_PREFIX, type ArchiveListing } from "../../shared/archive-protocol.ts";

/** Every object R2 holds for a recording, through the edge's admin listing (all pages). */
export const listArchive = async (edgeUrl: string, adminToken: string, recordingId: string): Promise<ArchiveListing> => {
  const objects: ArchiveListing["objects"] = [];
  let cursor: string | null = null;
  let recording: ArchiveListing["recording"] | null = null;
  do {
    const res: Response = await fetch(`${edgeUrl}${ARCHIVE_PREFIX}/${recordingId}/objects${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    if (!res.ok) throw new Error(`listing: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as ArchiveListing;
    recording = page.recording;
    objects.push(...page.objects);
    cursor = page.cursor;
  } while (cursor);
  return { recording: recording!, objects, cursor: null };
};
