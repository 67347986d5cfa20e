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
    // Test-only code lives in test/support/; the services' runtime code never reaches it.
    files: ["core-origin/**/*.ts", "gpu-transcoder/**/*.ts", "shared/**/*.ts"],
    ignores: ["**/*.test.ts", "**/*.test-helper.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/test/support/**"], message: "test/support/ is for tests only" }] }],
    },
  },
);
