-- Cloud Spanner schema of the likes service (GoogleSQL DDL), and the single
-- source of truth for it: `likes migrate --store spanner://…` creates the
-- database with these statements, or applies those whose table or index
-- does not exist yet. The embedded SQLite backend mirrors these tables in
-- src/store/sqlite/layout.rs.

-- Every like, kept for export. The key is the like's UUID: random (v4), or
-- a hash of (talk, liker, clientMutationId) (v5) so that a retried mutation
-- names the same row. Either way the keys spread evenly over the key space,
-- so concurrent inserts from all replicas land on many splits instead of
-- piling onto the last one, as a timestamp or counter key would. For the
-- same reason there is no secondary index on (SessionId, CreatedAt): at
-- conference peaks a few talks take most likes, and such an index would
-- append them all to a handful of hot ranges; it would also cost 3 more
-- mutations per like. Reads of likes (export, audits) scan instead.
CREATE TABLE Likes (
  Id        STRING(36) NOT NULL,
  SessionId INT64      NOT NULL,
  Uuid      STRING(64) NOT NULL,
  ServerId  STRING(64) NOT NULL,
  CreatedAt TIMESTAMP  NOT NULL,
) PRIMARY KEY (Id);

-- Per (second, talk, server): how many likes that server stored for that
-- talk in a flush that started in that second. The key starts with Second
-- because the only read is "every bucket of the last W seconds", one range
-- scan of one contiguous key range per observer tick, whatever the number
-- of talks, servers and subscribers. Writes go to the newest seconds, but
-- they are few and bounded: one row per (replica, talk with new likes) per
-- second, however many likes arrive, so that end of the table never becomes
-- a hotspot. ServerId in the key means each replica writes only its own
-- rows, so replicas never contend for a row.
--
-- Buckets expire: Spanner deletes rows a day after their second (SecondAt
-- is Second as a timestamp). Observers only ever read the last minutes, and
-- every like a bucket counted is also counted, in the same transaction, in
-- LikeSummaryTotals, which never expires; so deleting a bucket cannot lose
-- a total. Likes never expire.
CREATE TABLE LikeSummaryServers (
  Second    INT64      NOT NULL,
  SessionId INT64      NOT NULL,
  ServerId  STRING(64) NOT NULL,
  Likes     INT64      NOT NULL,
  SecondAt  TIMESTAMP  NOT NULL,
) PRIMARY KEY (Second, SessionId, ServerId),
  ROW DELETION POLICY (OLDER_THAN(SecondAt, INTERVAL 1 DAY));

-- Per (talk, server): the running total of likes that server stored for that
-- talk, grown in the same transaction as its bucket. Session.liked and the
-- observer's catch-up read SUM(Likes) GROUP BY SessionId here: a few rows per
-- talk, never a scan of Likes. Each server updates only its own rows.
CREATE TABLE LikeSummaryTotals (
  SessionId INT64      NOT NULL,
  ServerId  STRING(64) NOT NULL,
  Likes     INT64      NOT NULL,
) PRIMARY KEY (SessionId, ServerId);

-- Per (talk, slot, server): how many likes of that talk, created in that
-- 10-second slot (Start: its first second since the epoch, a multiple of
-- 10), that server stored; grown in the same transaction as its bucket and
-- totals, so a talk's slots always add up to its total. Session.timeline
-- reads a talk's slots, one range of the key, summed over servers. Rows are
-- few: one per (talk, server) per 10 seconds in which the talk got likes,
-- not one per like, and they never expire: the timeline is kept as long as
-- the likes. Writes to a talk's range go to its newest slots, one row per
-- replica per flush: bounded, and spread over talks. Each server updates
-- only its own rows.
CREATE TABLE LikeTimeline (
  SessionId INT64      NOT NULL,
  Start     INT64      NOT NULL,
  ServerId  STRING(64) NOT NULL,
  Likes     INT64      NOT NULL,
) PRIMARY KEY (SessionId, Start, ServerId);

-- Per replica: how many likeAdded subscribers it has per talk, replaced
-- whole after each of its flushes while it has any (and once when it has
-- none left), with Second the second of that report. Observers sum the
-- reports with Second inside their window, so a replica that stops
-- reporting drops out of every talk's audience within the window. One row
-- per replica, its talks and counts as two arrays of equal length: one
-- mutation per report however many talks it watches. Rows of replicas that
-- are gone expire a day after their last report.
CREATE TABLE LikeAudiences (
  ServerId   STRING(64)   NOT NULL,
  Second     INT64        NOT NULL,
  SessionIds ARRAY<INT64> NOT NULL,
  Watching   ARRAY<INT64> NOT NULL,
  SecondAt   TIMESTAMP    NOT NULL,
) PRIMARY KEY (ServerId),
  ROW DELETION POLICY (OLDER_THAN(SecondAt, INTERVAL 1 DAY));
