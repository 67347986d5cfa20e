// wrangler's Text rule turns this file into a string module.
declare module "hls.js/dist/hls.min.js" {
  const source: string;
  export default source;
}
