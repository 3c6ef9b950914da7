// Validates an AsyncAPI document with the AsyncAPI parser (its schema and its Spectral rules,
// which check every message example against its payload and headers schemas). Prints every
// diagnostic; exits 1 when any is an error or a warning. Usage: node asyncapi.cjs FILE
const fs = require('fs');
const { Parser } = require('@asyncapi/parser');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

// Every message example against its message's schemas (the parser's rules do not check them).
function checkExamples(document) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const f of ['int64', 'int32', 'uint16', 'uint32', 'double', 'float']) ajv.addFormat(f, true);
  const problems = [];
  let checked = 0;
  for (const m of document.allMessages()) {
    const schemas = { payload: m.payload()?.json(), headers: m.headers()?.json() };
    for (const ex of m.examples()) {
      for (const part of ['payload', 'headers']) {
        const value = part === 'payload' ? ex.payload() : ex.headers();
        if (value === undefined || !schemas[part]) continue;
        checked += 1;
        const validate = ajv.compile(schemas[part]);
        if (!validate(value)) {
          problems.push(`${m.id()} example ${ex.name() || ''} ${part}: ${ajv.errorsText(validate.errors)}`);
        }
      }
    }
  }
  return { problems, checked };
}

(async () => {
  const text = fs.readFileSync(process.argv[2], 'utf8');
  const { document, diagnostics } = await new Parser().parse(text);
  const names = ['error', 'warning', 'information', 'hint'];
  for (const d of diagnostics) {
    console.log(`${names[d.severity]} ${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
  }
  const bad = diagnostics.filter((d) => d.severity <= 1);
  if (!document || bad.length > 0) {
    console.log(`invalid: ${bad.length} errors or warnings`);
    process.exit(1);
  }
  const { problems, checked } = checkExamples(document);
  for (const p of problems) console.log(`example: ${p}`);
  if (problems.length > 0) {
    console.log(`invalid: ${problems.length} examples do not match their schemas`);
    process.exit(1);
  }
  console.log(
    `valid: AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
      `${document.allMessages().length} messages, ${checked} examples checked against their schemas`,
  );
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
