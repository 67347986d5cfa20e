import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", ".cascade/**", ".wrangler/**", "bench/out/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The pages' browser code: classic scripts (the prelude's names are read by the page script that
    // follows it, see its `exported` comment). tsc checks every name against the DOM and the prelude
    // (edge/pages/client/tsconfig.json, `npm run typecheck:client`), so no-undef would only repeat it.
    files: ["edge/pages/client/**/*.js"],
    languageOptions: { sourceType: "script" },
    rules: { "no-undef": "off" },
  },
);
