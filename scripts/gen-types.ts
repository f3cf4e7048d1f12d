// Generates src/config/schema-types.ts from schemas/experiment.schema.json, so the schema stays the one
// source of truth for the file format. `npm run gen:types`; a test fails when the output is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const schemaPath = fileURLToPath(new URL('../schemas/experiment.schema.json', import.meta.url));
export const typesPath = fileURLToPath(new URL('../src/config/schema-types.ts', import.meta.url));

export async function generateTypes(): Promise<string> {
  const schema = JSON.parse(await readFile(schemaPath, 'utf8'));
  return compile(schema, 'ExperimentFile', {
    bannerComment: '// Generated from schemas/experiment.schema.json by `npm run gen:types`. Do not edit.',
    additionalProperties: false,
    style: { singleQuote: true, printWidth: 110 },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(typesPath, await generateTypes());
  console.log(`wrote ${typesPath}`);
}
