#!/usr/bin/env sh
# Fill messages.body_length (added by 0003) in throttled batches; re-run to resume.
exec migrator backfill run fill-body-length --table messages \
    --set "body_length = length(body)" --where "body_length IS NULL" --max-lag 1s "$@"
