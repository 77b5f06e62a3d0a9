// GraphiQL for this server: queries and mutations are POSTed to /graphql,
// subscriptions go over a WebSocket to /graphql (graphql-transport-ws).
// Everything it needs, fonts included, comes from this bundle; the schema,
// for its documentation and completion, comes from the server as SDL.

import 'graphiql/graphiql.css';
import './style.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { setNonce } from 'get-nonce';
import { buildSchema } from 'graphql';
import { createClient } from 'graphql-ws';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';

const EXAMPLE = `# Every talk with its total likes. Run it with the ▶ button (Ctrl-Enter).
{
  sessions {
    sessionId
    title
    liked
  }
}
`;

// GraphiQL's dialogs add a <style> element while open; the policy lets in
// only those carrying this response's nonce.
setNonce(document.querySelector('meta[name="style-nonce"]').content);

const endpoint = new URL('/graphql', location.href);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

const fetcher = createGraphiQLFetcher({
  url: endpoint.href,
  // Opened on the first subscription, closed a while after the last ends.
  wsClient: createClient({ url: socket.href, lazy: true }),
});

/**
 * The server's schema, built from the SDL it serves while introspection is
 * on. GraphiQL's own introspection query nests deeper than the server's
 * depth limits allow, so given a schema GraphiQL does not send it. Without
 * one (introspection off: 404) GraphiQL introspects, and is refused.
 */
async function serverSchema() {
  try {
    const response = await fetch(new URL('/graphiql/schema.graphql', location.href));
    return response.ok ? buildSchema(await response.text()) : undefined;
  } catch (error) {
    console.error("the server's schema is unusable:", error);
    return undefined;
  }
}

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, { fetcher, defaultQuery: EXAMPLE, schema: await serverSchema() }),
);
