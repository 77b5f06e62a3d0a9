-- Cloud Spanner schema of the likes service (GoogleSQL DDL). The embedded
-- SQLite backend mirrors these tables in src/store/sqlite.rs.

-- Every like, kept for export. Id is the like's UUID (random, or derived
-- from liker + clientMutationId so retries name the same row): its values
-- spread evenly over the key space, so inserts do not all land on one split.
CREATE TABLE Likes (
  Id        STRING(36) NOT NULL,
  SessionId INT64      NOT NULL,
  Uuid      STRING(64) NOT NULL,
  ServerId  STRING(64) NOT NULL,
  CreatedAt TIMESTAMP  NOT NULL,
) PRIMARY KEY (Id);

CREATE INDEX LikesBySession ON Likes (SessionId, CreatedAt);

-- Per (second, talk, server): how many likes that server stored for that
-- talk in a flush that started in that second. Each server writes only its
-- own rows, so replicas never contend; observers read the last few seconds.
CREATE TABLE LikeSummaryServers (
  Second    INT64      NOT NULL,
  SessionId INT64      NOT NULL,
  ServerId  STRING(64) NOT NULL,
  Likes     INT64      NOT NULL,
) PRIMARY KEY (Second, SessionId, ServerId);

-- Per (talk, server): running total, updated in the same transaction as the
-- buckets. Session.liked sums these rows, never the Likes table.
CREATE TABLE LikeSummaryTotals (
  SessionId INT64      NOT NULL,
  ServerId  STRING(64) NOT NULL,
  Likes     INT64      NOT NULL,
) PRIMARY KEY (SessionId, ServerId);
