// ESLint (flat config): typescript-eslint with type information, the rules of hooks (with the React
// Compiler's checks), Fast Refresh boundaries, and the import directions that keep the layers apart.
// Formatting is Prettier's (eslint-config-prettier turns off the rules that would disagree with it).
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import { defineConfig, globalIgnores } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import reactRefresh from "eslint-plugin-react-refresh";
import globals from "globals";
import tseslint from "typescript-eslint";

const LAYERS = {
  pages: "Pages sit on top: components, lib and api never import from src/pages.",
  components: "Components are UI: lib and api never import from src/components.",
};

/** A layer may not import from the folders named (type-only imports included). */
function forbid(...layers) {
  return {
    "no-restricted-imports": [
      "error",
      { patterns: layers.map((layer) => ({ regex: `(^|/)${layer}(/|$)`, message: LAYERS[layer] })) },
    ],
  };
}

export default defineConfig(
  globalIgnores(["dist", "test-output", "src/api/schema.d.ts"]),
  {
    files: ["**/*.{ts,tsx}"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // As tsc's noUnusedParameters: a leading underscore marks a parameter kept for its position or type.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.{ts,tsx}"],
    extends: [reactHooks.configs.flat.recommended, reactRefresh.configs.vite],
    languageOptions: { globals: globals.browser },
  },
  { files: ["src/components/**"], rules: forbid("pages") },
  { files: ["src/lib/**", "src/api/**"], rules: forbid("pages", "components") },
  {
    files: ["eslint.config.js"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ["e2e/**", "vite.config.ts"],
    languageOptions: { globals: globals.node },
  },
  {
    // Loaded by index.html before the app, as a classic script.
    files: ["public/**/*.js"],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: "script", globals: globals.browser },
  },
  prettier,
);
