// `bimamba/server`: the OpenAI-compatible HTTP app and the stores that park its sessions. It imports no
// Node module statically (DirectoryStore reads node:fs only when first used); the Worker build, under
// the `workerd` condition, imports none at all.
export { createApp, type AppOptions } from './app.js';
export { MemoryStore, type SnapshotStore } from './store.js';
export { DirectoryStore } from './directory-store.js';
export { RedisStore, type RedisLike, type RedisStoreOptions } from './redis-store.js';
export { SESSION_NAME } from './request.js';
