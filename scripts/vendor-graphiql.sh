#!/usr/bin/env bash
# Re-vendors the GraphiQL page's browser assets from the npm registry into
# crates/http/assets/graphiql/, so GET /graphql works without reaching a CDN. The files are
# the packages' unmodified production builds; their licences travel with them. Run it only to
# change versions (then update VERSIONS); the build itself never downloads anything.
set -euo pipefail
GRAPHIQL=4.1.2 # the newest line that still publishes a UMD bundle for a plain <script> tag
REACT=18.3.1
dest="$(cd "$(dirname "$0")/.." && pwd)/crates/http/assets/graphiql"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null
mkdir graphiql react react-dom
tar xzf "graphiql-$GRAPHIQL.tgz" -C graphiql
tar xzf "react-$REACT.tgz" -C react
tar xzf "react-dom-$REACT.tgz" -C react-dom
cp graphiql/package/graphiql.min.js graphiql/package/graphiql.min.css "$dest/"
cp graphiql/package/LICENSE "$dest/LICENSE.graphiql"
cp react/package/umd/react.production.min.js "$dest/"
cp react/package/LICENSE "$dest/LICENSE.react"
cp react-dom/package/umd/react-dom.production.min.js "$dest/"
cp react-dom/package/LICENSE "$dest/LICENSE.react-dom"
# The bundles name their source maps, which are not vendored: drop the comment so browsers
# do not ask for them.
sed -i '/^\/\/# sourceMappingURL=/d' "$dest"/*.js
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$dest"/*.css
{
  echo "graphiql $GRAPHIQL, react $REACT, react-dom $REACT (npm registry, production builds)"
  (cd "$dest" && sha256sum ./*.js ./*.css)
} >"$dest/VERSIONS"
echo "vendored into $dest"
