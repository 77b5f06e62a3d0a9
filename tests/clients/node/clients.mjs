// Real clients against a running server, as the conference's front ends
// use them: the graphql-ws client with the page's subscription, and Apollo
// Client 4 (HttpLink behind automatic persisted queries for queries and
// mutations, GraphQLWsLink for likeAdded, Apollo's default __typename in
// every selection set). Both watch a talk, Apollo likes it N times, and
// each subscriber's deltas must add up to exactly N. Then Apollo likes it
// with the LikeSession mutation and reads the count back from its
// normalised cache at once: it holds each like.
//
//   node clients.mjs http://127.0.0.1:8080 [N]

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createHash } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { expectExactly, fail, metric as metricOf, until } from './common.mjs';

const base = process.argv[2];
const likes = Number(process.argv[3] ?? 20);
if (!base) {
  console.error('usage: node clients.mjs BASE_URL [N]');
  process.exit(2);
}
const httpUrl = `${base}/graphql`;
const wsUrl = httpUrl.replace(/^http/, 'ws');
const TALK = 1;
const metric = (name) => metricOf(base, name);

// The page's subscription, with the graphql-ws client.
const seen = { graphqlWs: 0, apollo: 0 };
const plain = createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false });
plain.subscribe(
  {
    query: `subscription($sessionId: Int!) {
  likeAdded(sessionId: $sessionId) { sessionId likes total }
}`,
    variables: { sessionId: TALK },
  },
  {
    next: ({ data, errors }) => {
      if (errors) fail(`graphql-ws got errors: ${JSON.stringify(errors)}`);
      seen.graphqlWs += data.likeAdded.likes;
    },
    error: (error) => fail(`graphql-ws failed: ${JSON.stringify(error)}`),
    complete: () => {},
  },
);

// Apollo Client 4. Its requests are counted by kind, to show the
// persisted-query round trip: a hash alone (GET for queries), answered
// PERSISTED_QUERY_NOT_FOUND the first time, then the text once, then the
// hash alone again.
const sent = { hashOnlyGets: 0, hashOnlyPosts: 0, withText: 0 };
const counted = (url, options) => {
  if (options.method === 'GET') sent.hashOnlyGets += 1;
  else if (JSON.parse(options.body).query) sent.withText += 1;
  else sent.hashOnlyPosts += 1;
  return fetch(url, options);
};
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const http = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
  new HttpLink({ uri: httpUrl, fetch: counted }),
);
const ws = new GraphQLWsLink(createClient({ url: wsUrl, webSocketImpl: WebSocket }));
const link = ApolloLink.split(
  ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  },
  ws,
  http,
);
const apollo = new ApolloClient({ link, cache: new InMemoryCache() });

const WATCH = gql`
  subscription Watch($sessionId: Int!) {
    likeAdded(sessionId: $sessionId) {
      sessionId
      likes
      total
    }
  }
`;
apollo.subscribe({ query: WATCH, variables: { sessionId: TALK } }).subscribe({
  next: ({ data, error }) => {
    if (error) fail(`Apollo's subscription got an error: ${error}`);
    if (data.likeAdded.__typename !== 'LikeEvent') fail(`no __typename: ${JSON.stringify(data)}`);
    seen.apollo += data.likeAdded.likes;
  },
  error: (error) => fail(`Apollo's subscription failed: ${error}`),
});

await until(async () => (await metric('likes_subscribers')) >= 2, 10_000, 'both subscriptions held');

const TALK_QUERY = gql`
  query Talk($sessionId: Int!) {
    session(sessionId: $sessionId) {
      id
      title
      liked
    }
  }
`;
const before = await apollo.query({
  query: TALK_QUERY,
  variables: { sessionId: TALK },
  fetchPolicy: 'network-only',
});
if (before.error || before.data.session.id !== `Session:${TALK}`) {
  fail(`the talk query failed: ${JSON.stringify(before)}`);
}

const LIKE = gql`
  mutation Like($input: CreateLikeInput!) {
    createLike(input: $input) {
      clientMutationId
      like {
        id
        session {
          sessionId
          liked
        }
      }
    }
  }
`;
for (let n = 0; n < likes; n += 1) {
  const result = await apollo.mutate({
    mutation: LIKE,
    variables: { input: { uuid: `apollo-${n}`, sessionId: TALK, clientMutationId: `tap-${n}` } },
  });
  const payload = result.data?.createLike;
  if (result.error || payload?.clientMutationId !== `tap-${n}` || !payload.like.id.startsWith('Like:')) {
    fail(`like ${n} was not acknowledged: ${JSON.stringify(result)}`);
  }
}

await expectExactly(seen, likes);
const after = await apollo.query({
  query: TALK_QUERY,
  variables: { sessionId: TALK },
  fetchPolicy: 'network-only',
});
console.log(JSON.stringify({ likes, seen, liked: after.data.session.liked, sent }));
// Two documents, each sent with its text once, after its hash alone was
// not found; the query's second run and every like after the first
// carried the hash alone.
if (sent.withText !== 2 || sent.hashOnlyPosts !== likes || sent.hashOnlyGets !== 2) {
  fail(`not the persisted-query round trip: ${JSON.stringify(sent)}`);
}
if (after.data.session.liked - before.data.session.liked !== likes) fail('liked did not grow by N');

// Read your writes through Apollo's normalised cache: the seed front end's
// LikeSession mutation writes its payload under Session:1, and a page shows
// the count it reads back from the cache at once. It must include the like
// just made, and never go back.
const LIKE_SESSION = gql`
  mutation LikeSession($input: CreateLikeInput!) {
    createLike(input: $input) {
      clientMutationId
      like {
        id
        session {
          id
          liked
        }
      }
    }
  }
`;
const cached = () =>
  apollo.readQuery({ query: TALK_QUERY, variables: { sessionId: TALK } })?.session?.liked;
const counts = [cached()];
for (let n = 1; n <= 5; n += 1) {
  const result = await apollo.mutate({
    mutation: LIKE_SESSION,
    variables: { input: { uuid: `cache-${n}`, sessionId: TALK, clientMutationId: `tap-${n}` } },
  });
  if (result.error) fail(`LikeSession ${n} failed: ${result.error}`);
  counts.push(cached());
  if (counts.at(-1) !== after.data.session.liked + n) {
    fail(`the cached count after like ${n} is not the count with it: ${JSON.stringify(counts)}`);
  }
}
const fresh = await apollo.query({
  query: TALK_QUERY,
  variables: { sessionId: TALK },
  fetchPolicy: 'network-only',
});
counts.push(fresh.data.session.liked, cached());
if (counts.some((count, i) => i > 0 && count < counts[i - 1]) || counts.at(-1) !== after.data.session.liked + 5) {
  fail(`the cached count went back or missed a like: ${JSON.stringify(counts)}`);
}
console.log(JSON.stringify({ cachedCounts: counts }));
await plain.dispose();
process.exit(0);
