# The Compose stack's stand-in application services (crates/wharf-testkit/src/bin/wharf-standin.rs):
# one static binary, also installed as /bin/sh so shell-form healthchecks run it.
FROM scratch
COPY wharf-standin /wharf-standin
COPY wharf-standin /bin/sh
USER 65532:65532
ENTRYPOINT ["/wharf-standin"]
