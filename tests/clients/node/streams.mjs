// Real clients subscribing over plain HTTP against a running server: the
// graphql-sse client in distinct connections mode, and Apollo Client 4's
// HttpLink, which subscribes with Apollo's multipart protocol. Both watch
// a talk, it is liked N times, and each subscriber's deltas must add up
// to exactly N.
//
//   node streams.mjs http://127.0.0.1:8080 [N]

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { createClient } from 'graphql-sse';
import { expectExactly, fail, metric as metricOf, until } from './common.mjs';

const base = process.argv[2];
const likes = Number(process.argv[3] ?? 20);
if (!base) {
  console.error('usage: node streams.mjs BASE_URL [N]');
  process.exit(2);
}
const url = `${base}/graphql`;
const TALK = 2;
const WATCH = `subscription Watch($sessionId: Int!) {
  likeAdded(sessionId: $sessionId) { sessionId likes total }
}`;
const metric = (name) => metricOf(base, name);

const seen = { graphqlSse: 0, apollo: 0 };

// graphql-sse, one connection per operation.
const sse = createClient({ url, singleConnection: false, retryAttempts: 0 });
const stopSse = sse.subscribe(
  { query: WATCH, variables: { sessionId: TALK } },
  {
    next: ({ data, errors }) => {
      if (errors) fail(`graphql-sse got errors: ${JSON.stringify(errors)}`);
      if (data.likeAdded.sessionId !== TALK) fail(`another talk: ${JSON.stringify(data)}`);
      seen.graphqlSse += data.likeAdded.likes;
    },
    error: (error) => fail(`graphql-sse failed: ${error}`),
    complete: () => {},
  },
);

// Apollo Client 4: HttpLink alone, so the subscription goes over HTTP.
const apollo = new ApolloClient({
  link: new HttpLink({ uri: url }),
  cache: new InMemoryCache(),
});
const apolloSubscription = apollo
  .subscribe({ query: gql(WATCH), variables: { sessionId: TALK } })
  .subscribe({
    next: ({ data, error }) => {
      if (error) fail(`Apollo's subscription got an error: ${error}`);
      if (data.likeAdded.__typename !== 'LikeEvent') fail(`no __typename: ${JSON.stringify(data)}`);
      seen.apollo += data.likeAdded.likes;
    },
    error: (error) => fail(`Apollo's subscription failed: ${error}`),
  });

await until(async () => (await metric('likes_subscribers')) >= 2, 10_000, 'both subscriptions held');

for (let n = 0; n < likes; n += 1) {
  const answer = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($input: CreateLikeInput!) { createLike(input: $input) { clientMutationId } }',
      variables: { input: { uuid: `stream-${n}`, sessionId: TALK, clientMutationId: `tap-${n}` } },
    }),
  });
  const result = await answer.json();
  if (result.data?.createLike?.clientMutationId !== `tap-${n}`) {
    fail(`like ${n} was not acknowledged: ${JSON.stringify(result)}`);
  }
}

await expectExactly(seen, likes);
console.log(JSON.stringify({ likes, seen }));
stopSse();
apolloSubscription.unsubscribe();
await until(async () => (await metric('likes_subscribers')) === 0, 5_000, 'both subscriptions freed');
process.exit(0);
