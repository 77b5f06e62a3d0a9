# The `likes` service as a small, shell-less, non-root image.
#
#   docker build -t likes .
#   docker run --rm -p 8080:8080 likes            # SQLite in the container's home
#
# In Kubernetes (k8s/) the root filesystem is read-only and the store is
# Cloud Spanner; see k8s/base/deployment.yaml.

# ---- build -----------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

# Dependencies first, in a layer of their own: it is rebuilt only when
# Cargo.toml or Cargo.lock change, not on every source edit. A stub crate
# with the same targets lets Cargo build every dependency.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# The crate itself: src/, plus what it embeds at compile time
# (schema.sql via include_str!, the front end's web/dist).
COPY schema.sql ./
COPY web/dist ./web/dist
COPY src ./src
# COPY keeps the files' own modification times, which may be older than the
# stub's build; touching the crate roots makes Cargo rebuild the real crate
# instead of shipping the stub.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/likes /likes

# ---- run -------------------------------------------------------------------
# distroless/cc: glibc, libgcc, CA certificates and tzdata, and no shell or
# package manager. Built on Debian 12 like the builder, so the glibc matches.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /likes /likes

# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
# The default store is sqlite://likes.db relative to the working directory;
# the nonroot user's home is writable for a plain `docker run`.
WORKDIR /home/nonroot
ENV LIKES_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/likes"]
CMD ["serve"]
