// Bundled from npm by wrangler's Text module rule (wrangler.toml `rules`): no third-party CDN.
import hlsSource from "hls.js/dist/hls.min.js";
import hlsPackage from "hls.js/package.json";

export const HLS_JS_VERSION: string = hlsPackage.version;
export const HLS_JS_PATH = `/assets/hls-${HLS_JS_VERSION}.min.js`;
export const HLS_JS_SOURCE: string = hlsSource;
