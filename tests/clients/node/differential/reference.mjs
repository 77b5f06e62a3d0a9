// The reference: graphql-js 16 (the spec's reference implementation) over
// our served SDL, with resolvers over a model of the service's data. The
// model is a snapshot read from the service (talks, totals, audiences)
// plus the semantics of `createLike` (checks, read-your-writes totals)
// and of `likeAdded`'s first event with `since`. What cannot be predicted
// (a like's fresh id, publication times, an audience a subscription may
// have joined, when in a talk its likes were made) is noted with its path for the comparator to check.

import {
  GraphQLError,
  buildSchema,
  execute,
  getOperationAST,
  isObjectType,
  parse,
  recommendedRules,
  responsePathAsArray,
  specifiedRules,
  subscribe,
  validate,
} from 'graphql';
import { noteWhatIsOpen } from './introspection.mjs';

/**
 * The validation rules of the October 2021 spec: graphql-js's specified
 * rules without the ones it only recommends (MaxIntrospectionDepthRule).
 */
export const SPEC_RULES = specifiedRules.filter((rule) => !recommendedRules.includes(rule));

/** graphql-js's schema for our SDL, its introspection noting what is open. */
export function referenceSchema(sdl) {
  const schema = buildSchema(sdl);
  noteWhatIsOpen(schema);
  return schema;
}

/** What a like's id and an event's time look like. */
export const PLACEHOLDER = {
  likeId: 'Like:00000000-0000-0000-0000-000000000000',
  publishedAt: '2000-01-01T00:00:00.000000Z',
  intervalStart: '2000-01-01T00:00:00Z',
};

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const bytes = (text) => Buffer.byteLength(text, 'utf8');
const coded = (code, message) => new GraphQLError(message, { extensions: { code } });

/** Checks `createLike`'s input as docs/api.md says; throws a coded error. */
function checkInput({ uuid, clientMutationId }) {
  if (bytes(uuid) < 1 || bytes(uuid) > 64) {
    throw coded('BAD_USER_INPUT', `uuid must be 1 to 64 bytes, got ${bytes(uuid)}`);
  }
  if (CONTROL.test(uuid)) throw coded('BAD_USER_INPUT', 'uuid has a control character');
  if (clientMutationId == null) return;
  if (bytes(clientMutationId) > 64) throw coded('BAD_USER_INPUT', 'clientMutationId too long');
  if (CONTROL.test(clientMutationId)) {
    throw coded('BAD_USER_INPUT', 'clientMutationId has a control character');
  }
}

/** The service's data as the reference sees it, changed by likes. */
export class Model {
  /** `talks`: every talk as read from the service before the run. */
  constructor(talks) {
    this.talks = new Map(talks.map((talk) => [talk.sessionId, { ...talk }]));
    /** Each like with a clientMutationId, by (talk, liker, id): a retry counts once. */
    this.likeIds = new Set();
  }

  /** Field resolvers, by `Type.field`. */
  resolvers() {
    const talk = (id) => this.talks.get(id);
    const field = (name) => (session) => talk(session.talk)[name];
    return {
      'Query.session': (_, { sessionId }) => (talk(sessionId) ? { talk: sessionId } : null),
      'Query.sessions': () => [...this.talks.keys()].sort((a, b) => a - b).map((id) => ({ talk: id })),
      'Session.id': (session) => `Session:${session.talk}`,
      'Session.sessionId': (session) => session.talk,
      'Session.title': field('title'),
      // Read your writes: a talk's total counts every like acknowledged.
      'Session.liked': field('liked'),
      'Session.watching': field('watching'),
      // How many likes a talk has is the model's; when they were made is
      // the service's clock's: the intervals are checked for their shape.
      'Session.timeline': (session, { every }, notes, info) => {
        if (every == null || every <= 0 || every % 10 !== 0 || 3600 % every !== 0) {
          throw coded('BAD_USER_INPUT', `every must be a multiple of 10 that divides 3600, not ${every}`);
        }
        const likes = talk(session.talk).liked;
        if (likes === 0) return [];
        notes.normalise.push({ path: responsePathAsArray(info.path), kind: 'timeline' });
        return [{ start: PLACEHOLDER.intervalStart, likes }];
      },
      'LikeInterval.start': (interval) => interval.start,
      'LikeInterval.likes': (interval) => interval.likes,
      'Session.startTime': field('startTime'),
      'Session.endTime': field('endTime'),
      'Session.room': field('room'),
      'Mutation.createLike': (_, { input }, notes, info) => {
        const like = { path: responsePathAsArray(info.path), talk: input.sessionId, acknowledged: false };
        notes.likes.push(like);
        checkInput(input);
        if (!talk(input.sessionId)) {
          throw coded('NOT_FOUND', `there is no talk with sessionId ${input.sessionId}`);
        }
        // The same talk, liker and clientMutationId name the same like.
        const id = input.clientMutationId == null ? null : [input.sessionId, input.uuid, input.clientMutationId].join('\u0000');
        like.counted = id === null || !this.likeIds.has(id);
        if (like.counted) talk(input.sessionId).liked += 1;
        if (id !== null) this.likeIds.add(id);
        like.acknowledged = true;
        return { clientMutationId: input.clientMutationId ?? null, like: { talk: input.sessionId } };
      },
      'CreateLikePayload.clientMutationId': (payload) => payload.clientMutationId,
      'CreateLikePayload.like': (payload) => payload.like,
      'Like.id': (_, __, notes, info) => {
        notes.normalise.push({ path: responsePathAsArray(info.path), kind: 'likeId' });
        return PLACEHOLDER.likeId;
      },
      'Like.session': (like) => ({ talk: like.talk }),
      'Subscription.likeAdded': (event) => event.likeAdded,
      'LikeEvent.sessionId': (event) => event.sessionId,
      'LikeEvent.likes': (event) => event.likes,
      'LikeEvent.total': (event) => event.total,
      // The audience as of the last report: this subscription may be in it.
      'LikeEvent.watching': (event, _, notes, info) => {
        const path = responsePathAsArray(info.path);
        notes.normalise.push({ path, kind: 'watching', min: event.watching, max: event.watching + 1 });
        return event.watching;
      },
      'LikeEvent.publishedAt': (_, __, notes, info) => {
        notes.normalise.push({ path: responsePathAsArray(info.path), kind: 'publishedAt' });
        return PLACEHOLDER.publishedAt;
      },
    };
  }

  /** `likeAdded`'s event stream: its first event comes at once with `since`. */
  likeAdded({ sessionId, since }) {
    if (since != null && since < 0) {
      throw coded('BAD_USER_INPUT', `since must be a total, 0 or more, not ${since}`);
    }
    const found = this.talks.get(sessionId);
    if (!found) throw coded('NOT_FOUND', `there is no talk with sessionId ${sessionId}`);
    if (since == null || since > found.liked) {
      throw new Error('the model has no first event: it would wait for a like');
    }
    const event = {
      sessionId,
      likes: found.liked - since,
      total: found.liked,
      watching: found.watching,
    };
    return (async function* events() {
      yield { likeAdded: event };
    })();
  }
}

/** Every field of the schema's own types the model does not answer. */
export function unanswered(schema, model) {
  const resolvers = model.resolvers();
  return Object.values(schema.getTypeMap())
    .filter((type) => isObjectType(type) && !type.name.startsWith('__'))
    .flatMap((type) => Object.keys(type.getFields()).map((name) => `${type.name}.${name}`))
    .filter((key) => !resolvers[key]);
}

/**
 * graphql-js's answer to `request` ({query, variables, operationName})
 * over `model`, with notes: the paths to normalise, and each like tried.
 */
export async function referenceAnswer(schema, model, request) {
  const notes = { normalise: [], likes: [] };
  let document;
  try {
    document = parse(request.query);
  } catch (error) {
    return { result: { errors: [error] }, notes, verdict: 'unparsable' };
  }
  let invalid;
  try {
    invalid = validate(schema, document, SPEC_RULES);
  } catch (error) {
    // graphql-js 16 throws on @skip/@include with a variable at a
    // subscription's root; newer drafts make that a validation error.
    invalid = [error];
  }
  if (invalid.length > 0) return { result: { errors: invalid }, notes, verdict: 'invalid' };
  const resolvers = model.resolvers();
  const args = {
    schema,
    document,
    variableValues: request.variables ?? undefined,
    operationName: request.operationName ?? undefined,
    contextValue: notes,
    fieldResolver: (source, fieldArgs, context, info) => {
      const resolve = resolvers[`${info.parentType.name}.${info.fieldName}`];
      return resolve(source, fieldArgs, context, info);
    },
  };
  try {
    return { result: await run(args, document, model), notes, verdict: 'valid' };
  } catch (error) {
    // graphql-js 16 throws on a subscription whose root field is skipped.
    return { result: { errors: [error] }, notes, verdict: 'valid' };
  }
}

/** Executes a valid document: a query or mutation, or a subscription's first event. */
async function run(args, document, model) {
  const operation = getOperationAST(document, args.operationName);
  if (operation?.operation !== 'subscription') return execute(args);
  const stream = await subscribe({
    ...args,
    subscribeFieldResolver: (_, fieldArgs) => model.likeAdded(fieldArgs),
  });
  if (!stream[Symbol.asyncIterator]) return stream;
  const first = await stream.next();
  await stream.return();
  return first.value;
}
