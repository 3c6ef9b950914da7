// A storefront's checkout through the generated client, unedited: list products, read one,
// make a cart, add a line, give checkout details, pay. Run against a live server:
//   ROUGE_URL=http://127.0.0.1:8080 node dist/checkout.js
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

const baseUrl = process.env.ROUGE_URL ?? "http://127.0.0.1:8080";
const client = createClient<paths>({ baseUrl });

function fail(step: string, detail: unknown): never {
  console.error(`checkout failed at ${step}:`, JSON.stringify(detail));
  process.exit(1);
}

const listed = await client.GET("/v1/products", { params: { query: { limit: 24 } } });
if (!listed.data) fail("list", listed.error);
const summary = listed.data.items[0];
if (!summary) fail("list", "no products");

const detail = await client.GET("/v1/products/{slug}", { params: { path: { slug: summary.slug } } });
if (!detail.data) fail("product", detail.error);
const inStock = detail.data.variants.find((v) => detail.data.availability[v.sku] !== "sold_out");
if (!inStock) fail("product", "every variant is sold out");

const created = await client.POST("/v1/carts", {});
if (!created.data) fail("cart", created.error);
const cartId = created.data.id;

const line = await client.POST("/v1/carts/{id}/lines", {
  params: { path: { id: cartId } },
  body: { sku: inStock.sku, quantity: 1 },
});
if (!line.data) fail("line", line.error);

const details = await client.PUT("/v1/carts/{id}/checkout", {
  params: { path: { id: cartId } },
  body: {
    email: "camille@example.com",
    shipping_method: "standard",
    shipping_address: {
      name: "Camille Martin",
      line1: "12 rue des Lilas",
      city: "Lyon",
      postal_code: "69003",
      country: "FR",
    },
  },
});
if (!details.data) fail("checkout details", details.error);

const paid = await client.POST("/v1/carts/{id}/complete", {
  params: { path: { id: cartId }, header: { "Idempotency-Key": crypto.randomUUID() } },
  body: { payment: { provider: "test", token: "tok_visa" } },
});
if (!paid.data) fail("complete", paid.error);
console.log(JSON.stringify({ order: paid.data.id, status: paid.data.status, total: paid.data.totals.total }));
