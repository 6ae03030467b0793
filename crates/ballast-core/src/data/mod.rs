//! Data sets: IDX files (plain and gzip), batching, seeded shuffling.
