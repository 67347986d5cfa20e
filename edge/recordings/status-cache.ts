/**
 * Which recordings may be served, remembered per isolate for a few seconds so a player's segment
 * requests do not each cost a D1 read. Only `ready` is remembered (a recording that becomes ready
 * is served at once); deletion and retention forget it here, and other isolates within TTL_MS.
 */
const TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

const ready = new Map<string, number>();

export const isReadyCached = (id: string, now = Date.now()): boolean => {
  const at = ready.get(id);
  if (at === undefined) return false;
  if (now - at < TTL_MS) return true;
  ready.delete(id);
  return false;
};

export const rememberReady = (id: string, now = Date.now()): void => {
  if (ready.size >= MAX_ENTRIES) ready.clear();
  ready.set(id, now);
};

export const forgetRecordingStatus = (id: string): void => {
  ready.delete(id);
};
