/** Vite's `?raw` imports: a module's source as text (the constant-time checks read the code paths). */
declare module "*?raw" {
  const text: string;
  export default text;
}
