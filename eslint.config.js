import js from "@eslint/js";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import tseslint from "typescript-eslint";

/** Folders that hold one control each: their index.ts is the control's public face. */
const CONTROL_FOLDERS = ["access", "authorize", "blocking", "cors", "headers", "identity", "quota", "rate-limit", "shield", "forward", "health"];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".portcullis/", "bench/results/", "examples/**/node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-console": "off",
      eqeqeq: ["error", "always"],
    },
  },
  {
    // The examples are plain Node modules, as a user would write them.
    files: ["examples/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    files: ["src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/extensions": [".ts", ".js"],
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "tsconfig.json" })],
    },
    rules: {
      // An import loop means two modules that cannot be understood (or loaded) one without the other.
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
    },
  },
  {
    // Controls own their options: the policy composes their schemas, never the other way round.
    files: CONTROL_FOLDERS.map((folder) => `src/${folder}/**/*.ts`).concat(["src/pipeline/**/*.ts", "src/routing/**/*.ts", "src/net/**/*.ts", "src/counters/**/*.ts"]),
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ group: ["**/policy/*", "**/gateway/*", "**/front-ends/*"], message: "A control takes its own options; only the composition root reads the policy." }] }],
    },
  },
  {
    // A control folder's index.ts exports that control, not another folder's.
    files: CONTROL_FOLDERS.map((folder) => `src/${folder}/index.ts`),
    rules: {
      "no-restricted-syntax": [
        "error",
        { selector: "ExportNamedDeclaration[source.value=/^\\.\\.\\//]", message: "Export only this folder's own modules from its index.ts." },
        { selector: "ExportAllDeclaration[source.value=/^\\.\\.\\//]", message: "Export only this folder's own modules from its index.ts." },
      ],
    },
  },
);
