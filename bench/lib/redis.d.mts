// Types for redis.mjs (used from the TypeScript tests).
export type RedisHandle = { ok: true; host: string; port: number; stop(): Promise<void> } | { ok: false; reason: string };
export function startRedis(): Promise<RedisHandle>;
