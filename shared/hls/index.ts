export * from "./types.ts";
export * from "./render-media.ts";
export * from "./render-multivariant.ts";
export * from "./parse.ts";
export * from "./rules.ts";
