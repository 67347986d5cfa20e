// wrangler.toml's Text rule (`**/client/*.js`) makes each browser script a string module.
declare module "*/client/prelude.js" {
  const source: string;
  export default source;
}
declare module "*/client/player.js" {
  const source: string;
  export default source;
}
declare module "*/client/chat.js" {
  const source: string;
  export default source;
}
declare module "*/client/login.js" {
  const source: string;
  export default source;
}
declare module "*/client/creator.js" {
  const source: string;
  export default source;
}
declare module "*/client/directory-reload.js" {
  const source: string;
  export default source;
}
