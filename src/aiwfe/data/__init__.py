"""aiwfe-data: move, back up, restore and check the data of an AIWFE install.

One bundle format serves migration (Docker Compose -> chart) and backups:

    pg/globals.sql         roles (pg_dumpall --globals-only)
    pg/<db>.dump           the application database (pg_dump -Fc, loaded with pg_restore)
    redis/keys.jsonl       every key of every Redis database as DUMP payload + TTL
    vectors/<name>.jsonl   vector ids + payloads (Qdrant points API, or the pgvector table)
    vectors/<name>.f32     the vectors, float32 little-endian, one row per line of .jsonl
    manifest.json          written LAST: versions, quiesced flag, size+sha256 per file and
                           the fingerprints of the source; no manifest = incomplete bundle

docs/backup.md describes the format and what `verify` checks.
"""

BUNDLE_SCHEMA_VERSION = 1
