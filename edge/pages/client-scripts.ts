import chat from "./client/chat.js";
import creator from "./client/creator.js";
import directoryReload from "./client/directory-reload.js";
import login from "./client/login.js";
import player from "./client/player.js";
import prelude from "./client/prelude.js";

/**
 * The pages' browser code (edge/pages/client/*.js: checked JavaScript, shipped as written, bundled
 * as text by wrangler.toml's Text rule). Each page script runs after the prelude in one function, so
 * the two share names and nothing leaks onto `window`. The scripts are the same for every request:
 * what differs (stream id, playback URL, limits) travels in the page's data island.
 */
const withPrelude = (source: string): string => `(function () {\n${prelude}\n${source}\n})();\n`;

export const PLAYER_SCRIPT = withPrelude(player);
export const CHAT_SCRIPT = withPrelude(chat);
export const LOGIN_SCRIPT = withPrelude(login);
export const CREATOR_SCRIPT = withPrelude(creator);
/** Stands alone: the directory keeps no session. */
export const DIRECTORY_RELOAD_SCRIPT = directoryReload;
