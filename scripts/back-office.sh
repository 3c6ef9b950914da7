#!/bin/sh
# The back office of the demo shop, end to end: a customer buys the monthly box and subscribes,
# staff make next month's boxes up, deliver her order, moderate her review, and set a promotion
# and a webhook up. The README shows these commands and the API tests run this file against a
# demo server, so neither drifts. Needs only sh and curl. ROUGE names the server, KEY is a staff
# token with every permission (the owner's: POST /v1/admin/auth/login), TOKEN a signed-in
# customer's access token (POST /v1/auth/login).
set -eu
# --- the back office (the README's copy starts here) ---
ROUGE=${ROUGE:-http://127.0.0.1:8080}
call() { # who method path [body]
  curl -sS -w '\n' -X "$2" -H "authorization: Bearer $1" -H 'content-type: application/json' \
    -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" "$ROUGE$3" ${4:+-d "$4"}
}
her() { call "$TOKEN" "$@"; }
staff() { call "$KEY" "$@"; }
idof() { sed 's/^{"id":"\([^"]*\)".*/\1/'; }

# She says what her skin is like, buys the monthly box and a serum, and subscribes to the box
her PATCH /v1/me '{"beauty_profile": {"skin_type": "oily", "concerns": ["acne"], "avoid_ingredients": ["retinol"]}}'
CART=$(her POST /v1/carts | idof)
her POST "/v1/carts/$CART/lines" '{"sku": "BOX-MONTHLY", "quantity": 1}'
her POST "/v1/carts/$CART/lines" '{"sku": "LL-NIA-30", "quantity": 1}'
her PUT "/v1/carts/$CART/checkout" '{"email": "ana@example.com", "shipping_method": "standard",
  "shipping_address": {"name": "Ana Silva", "line1": "3 quai Tilsitt", "city": "Lyon", "postal_code": "69002", "country": "FR"}}'
ORDER=$(her POST "/v1/carts/$CART/complete" '{"payment": {"provider": "test", "token": "tok_visa"}}' | idof)
her POST /v1/subscriptions "{\"order_id\": \"$ORDER\", \"sku\": \"BOX-MONTHLY\", \"cadence_weeks\": 4,
  \"payment\": {\"provider\": \"test\", \"token\": \"pm_card_visa\"}}"
her GET /v1/subscriptions

# Staff make next month's box up from a pool, preview it (never retinol for her) and lock it
# (its items are set aside in inventory); she reads her box; staff see every subscription
Y=$(date -u +%Y) M=$(date -u +%m)
NEXT=$(if [ "$M" = 12 ]; then echo "$((Y + 1))-01"; else printf '%s-%02d' "$Y" $((${M#0} + 1)); fi)
staff PUT "/v1/admin/boxes/$NEXT" '{"box_sku": "BOX-MONTHLY", "items_per_box": 2,
  "pool": [{"sku": "LL-NIA-5", "quantity": 40}, {"sku": "LL-GLOW-5", "quantity": 40}, {"sku": "ST-RET-30", "quantity": 5}]}'
staff GET "/v1/admin/boxes/$NEXT/preview"
staff PUT "/v1/admin/boxes/$NEXT/lock"
her GET "/v1/boxes/$NEXT"
staff GET /v1/admin/subscriptions

# Staff take the payment, ship and deliver her order; she reviews the serum (with her skin
# type); a moderator approves it; shoppers read it by skin type
staff POST "/v1/admin/orders/$ORDER/transitions" '{"action": "capture"}'
staff POST "/v1/admin/orders/$ORDER/transitions" '{"action": "ship", "carrier": "Colissimo", "tracking": "6A123"}'
staff POST "/v1/admin/orders/$ORDER/transitions" '{"action": "mark_delivered"}'
REVIEW=$(her POST /v1/products/lumen-lab-niacinamide-10-serum/reviews "{\"order_id\": \"$ORDER\", \"sku\": \"LL-NIA-30\",
  \"rating\": 5, \"title\": \"Calmer skin\", \"text\": \"Fewer breakouts within two weeks.\", \"display_name\": \"Ana S.\"}" | idof)
staff PUT "/v1/admin/reviews/$REVIEW/moderation" '{"decision": "approve"}'
her GET '/v1/products/lumen-lab-niacinamide-10-serum/reviews?skin_type=oily&limit=3'

# A promotion for her segment: 15 % off serums for oily skin (her cart shows it, and why)
staff POST /v1/admin/promotions '{"name": "Oily skin: 15 % off serums", "benefit": {"kind": "percent_off", "percent_bp": 1500},
  "target": {"kind": "category", "slug": "serums"}, "segments": ["skin_type:oily"]}'
CART=$(her POST /v1/carts | idof)
her POST "/v1/carts/$CART/lines" '{"sku": "LL-GLOW-30", "quantity": 1}'

# A webhook for the ERP: orders placed and shipped, signed (its secret is in the answer, once)
staff POST /v1/admin/webhooks '{"url": "https://erp.example.com/rouge", "event_types": ["order.placed", "order.shipped"], "description": "ERP"}'
staff GET /v1/admin/webhooks
