import Redis from 'ioredis';
import { BUCKETS, type RateDecision, type RateLimit } from './sliding-window';

/**
 * `decide` from sliding-window.ts, run atomically inside Redis so every instance
 * shares one count per key. The clock is Redis's own (TIME), so instances whose
 * clocks disagree still agree on the buckets. One hash per key and window length:
 * field = bucket index, value = calls admitted in that bucket.
 *
 * KEYS[1]: the hash. ARGV: limit, window in ms, buckets per window.
 * Returns {allowed (0|1), remaining, milliseconds until reset}.
 */
const SLIDING_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local buckets = tonumber(ARGV[3])
local size = window / buckets
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local current = math.floor(now / size)
local oldest = current - buckets
local fields = redis.call('HGETALL', KEYS[1])
local counted = {}
local total = 0
for i = 1, #fields, 2 do
  local bucket = tonumber(fields[i])
  if bucket < oldest then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    local count = tonumber(fields[i + 1])
    total = total + count
    counted[#counted + 1] = {bucket, count}
  end
end
table.sort(counted, function(a, b) return a[1] < b[1] end)
if total < limit then
  redis.call('HINCRBY', KEYS[1], string.format('%d', current), 1)
  redis.call('PEXPIRE', KEYS[1], window + 2 * size)
  local first = current
  if #counted > 0 then first = counted[1][1] end
  return {1, limit - total - 1, (first + buckets + 1) * size - now}
end
local left = total
for _, entry in ipairs(counted) do
  left = left - entry[2]
  if left < limit then return {0, 0, (entry[1] + buckets + 1) * size - now} end
end
return {0, 0, window}
`;

type WindowRedis = Redis & {
  keyhouseSlidingWindow(
    key: string,
    limit: number,
    windowMs: number,
    buckets: number,
  ): Promise<[number, number, number]>;
};

/** The shared limiter: one script call per decision. */
export class RedisWindows {
  private readonly redis: WindowRedis;

  constructor(redis: Redis) {
    redis.defineCommand('keyhouseSlidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    this.redis = redis as WindowRedis;
  }

  async consume(id: string, { limit, windowSeconds }: RateLimit): Promise<RateDecision> {
    const [allowed, remaining, resetMs] = await this.redis.keyhouseSlidingWindow(
      `keyhouse:rl:${id}:${windowSeconds}`,
      limit,
      windowSeconds * 1000,
      BUCKETS,
    );
    return { allowed: allowed === 1, limit, remaining, resetMs };
  }
}
