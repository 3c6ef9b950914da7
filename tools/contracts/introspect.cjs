// Sends graphql-js's standard introspection query (what GraphiQL and code generators send) to
// the GraphQL endpoint given, and rebuilds the schema from the answer; prints its SDL size.
// Exits non-zero when the server refuses the query or the answer is not a valid schema.
const { getIntrospectionQuery, buildClientSchema, printSchema } = require("graphql");

const url = process.argv[2];
fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ query: getIntrospectionQuery() }),
})
  .then((r) => r.json())
  .then((answer) => {
    if (answer.errors) {
      console.error(JSON.stringify(answer.errors));
      process.exit(1);
    }
    const sdl = printSchema(buildClientSchema(answer.data));
    console.log(JSON.stringify({ sdl_lines: sdl.split("\n").length, has_products: sdl.includes("products(") }));
  })
  .catch((e) => {
    console.error(String(e));
    process.exit(1);
  });
