#!/bin/sh
# A short tour of the demo shop (`cargo run --release -- serve --demo`). The README shows these
# commands and the API tests run this file against a demo server, so neither drifts. Needs only
# sh and curl. ROUGE names the server.
set -eu
# --- the tour (the README's copy starts here) ---
ROUGE=${ROUGE:-http://127.0.0.1:8080}
get() { curl -sS -w '\n' "$ROUGE$1"; }
send() { curl -sS -w '\n' -X "$1" -H 'content-type: application/json' "$ROUGE$2" -d "$3"; }

# Serums for oily, acne-prone skin, fragrance-free, vegan, under 30 EUR
get '/v1/products?category=serums&skin_type=oily&concern=acne&free_from=fragrance&certification=vegan&max_price=3000'

# Full text over names, brands, descriptions and ingredients, everyday names included
get '/v1/products?q=retinol'
get '/v1/products?q=vitamin%20c&sort=price_asc&limit=5'
get '/v1/products?q=spf%2050&limit=3'

# Contains niacinamide, but no alcohol and no fragrance (INCI or everyday names)
get '/v1/products?include_ingredient=niacinamide&exclude_ingredient=alcohol,fragrance&limit=5'

# The same in GraphQL
send POST /graphql '{"query": "{ products(filter: {skinType: [\"oily\"], freeFrom: [\"fragrance\"], certification: [\"vegan\"]}, first: 3) { totalCount edges { node { name priceFrom { amount currency } } } } }"}'

# One product, the category tree, brands, an ingredient by INCI or everyday name, stock
get /v1/products/lumen-lab-niacinamide-10-serum
get /v1/categories
get '/v1/brands?limit=5'
get /v1/ingredients/vitamin%20c
get '/v1/stock?sku=LL-GLOW-30&sku=LL-GLOW-50'

# Reviews by people with oily skin (with the rating by skin type), and the best-rated products
get '/v1/products/lumen-lab-niacinamide-10-serum/reviews?skin_type=oily&limit=3'
get '/v1/products?min_rating=4&sort=rating&limit=3'

# Find my shade: other brands' foundations nearest one she knows (CIEDE2000), and warm mid-depth shades
get '/v1/shades/CP-00306-2/matches?limit=3'
get '/v1/products?category=foundation&undertone=warm&depth_min=4&depth_max=6&limit=3'

# Recommendations, each with why: what oily skin buys, and a visitor's own after a search
get '/v1/recommendations?context=skin_type&skin_type=oily&limit=3'
send POST /v1/events '{"anonymous_id": "tour-visitor-1", "consent": true, "events": [{"type": "search_made", "query": "niacinamide"}]}'
get '/v1/recommendations?context=for_you&anonymous_id=tour-visitor-1&limit=3'

# Buy as a guest: a cart (its random id is its key), a line, the details, the order
CART=$(send POST /v1/carts '' | sed 's/^{"id":"\([^"]*\)".*/\1/')
send POST "/v1/carts/$CART/lines" '{"sku": "LL-NIA-30", "quantity": 2}'
send PUT "/v1/carts/$CART/checkout" '{"email": "camille@example.com", "shipping_method": "standard",
  "shipping_address": {"name": "Camille Martin", "line1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR"}}'
get "/v1/carts/$CART/shipping-methods"
# Offers live now; a welcome code and two free minis on the cart (it says what applied, and why not)
get /v1/offers
send POST "/v1/carts/$CART/codes" '{"code": "WELCOME10"}'
send PUT "/v1/carts/$CART/samples" '{"skus": ["LL-GLOW-5", "LL-HYA-5"]}'
curl -sS -w '\n' -X POST -H 'content-type: application/json' -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" \
  "$ROUGE/v1/carts/$CART/complete" -d '{"payment": {"provider": "test", "token": "tok_visa"}}'
