// Jest runs CommonJS; NestJS 12 and a few dependencies ship ES modules only, and
// PGlite's CommonJS build loads Node built-ins with dynamic import(), which Jest's
// VM only allows behind an experimental flag. This transformer compiles ES modules to
// CommonJS with TypeScript (rewriting the `import.meta` fields they use) and turns a
// dynamic import of a literal module name into a require.
const ts = require('typescript');
const crypto = require('node:crypto');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2023,
  esModuleInterop: true,
  allowJs: true,
  sourceMap: false,
};

const dynamicImportOfLiteral = /\bimport\((["'][\w:/@.-]+["'])\)/g;

module.exports = {
  getCacheKey(source, path) {
    return crypto.createHash('sha1').update('esm-v5').update(path).update(source).digest('hex');
  },
  process(source, path) {
    if (path.endsWith('.cjs')) {
      // A module-level alias: the bundled code declares a local `require` of its own.
      const code = source.replace(dynamicImportOfLiteral, 'Promise.resolve().then(() => requireBuiltin($1))');
      return { code: `const requireBuiltin = require;\n${code}` };
    }
    const rewritten = source
      .replace(/import\.meta\.url/g, "require('node:url').pathToFileURL(__filename).href")
      .replace(/import\.meta\.resolve\(/g, 'require.resolve(')
      .replace(/import\.meta\.dirname/g, '__dirname')
      .replace(/import\.meta\.filename/g, '__filename')
      // `const require = createRequire(import.meta.url)` would shadow CommonJS's own require.
      .replace(/\b(?:const|let|var) require\s*=/g, 'const esmRequire =');
    const { outputText } = ts.transpileModule(rewritten, { compilerOptions, fileName: path });
    return { code: outputText };
  },
};
