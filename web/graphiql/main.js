// GraphiQL for this server: queries and mutations are POSTed to /graphql,
// subscriptions go over a WebSocket to /graphql (graphql-transport-ws).
// Everything it needs, fonts included, comes from this bundle.

import 'graphiql/graphiql.css';
import './style.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { setNonce } from 'get-nonce';
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

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, { fetcher, defaultQuery: EXAMPLE }),
);
