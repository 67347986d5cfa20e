/** The edge Worker entry: LL-HLS delivery with cache and coalescing, prewarm, player and directory pages. */
import { createEdgeApp } from "./app.ts";

const { app } = createEdgeApp();

export default app;
